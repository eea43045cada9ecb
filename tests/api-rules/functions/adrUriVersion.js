// /core/uri-version: every URI of the API (server URL + path) includes the major version as a
// path segment "v<major>" (no minor or patch: "v1", not "v1.2"), equal to the major of info.version.
const VERSION_SEGMENT = /^v(\d+)$/;
const MINOR_SEGMENT = /^v\d+\.\d+/;

function serverPath(url) {
  const withoutOrigin = url.replace(/^[a-zA-Z][a-zA-Z0-9+.-]*:\/\/[^/]*/, '');
  return withoutOrigin.replace(/\{[^}]*\}/g, 'x');
}

function versionsIn(path) {
  return path.split('/').map((segment) => VERSION_SEGMENT.exec(segment)).filter(Boolean).map((m) => Number(m[1]));
}

export default (document) => {
  const results = [];
  const servers = Array.isArray(document?.servers) && document.servers.length > 0 ? document.servers : [{ url: '' }];
  const major = /^(\d+)\./.exec(String(document?.info?.version ?? ''));
  const paths = Object.keys(document?.paths ?? {});
  servers.forEach((server, index) => {
    const base = serverPath(String(server?.url ?? ''));
    const where = server?.url === undefined ? ['paths'] : ['servers', index, 'url'];
    if (base.split('/').some((segment) => MINOR_SEGMENT.test(segment))) {
      results.push({ message: `Server URL "${server.url}" carries more than the major version: only "v<major>" belongs in the URI.`, path: where });
    }
    const missing = paths.filter((path) => versionsIn(base + path).length === 0);
    if (missing.length > 0) {
      const shown = missing.slice(0, 3).join(', ') + (missing.length > 3 ? ', ...' : '');
      results.push({
        message: `No major version segment ("/v1") in the URI of ${base ? `server "${server.url}" + ` : ''}${shown}.`,
        path: where,
      });
    }
    if (major) {
      for (const path of paths) {
        const wrong = versionsIn(base + path).filter((v) => v !== Number(major[1]));
        if (wrong.length > 0) {
          results.push({
            message: `URI version v${wrong[0]} of ${base}${path} is not the major version of info.version ${document.info.version}.`,
            path: ['paths', path],
          });
        }
      }
    }
  });
  return results;
};
