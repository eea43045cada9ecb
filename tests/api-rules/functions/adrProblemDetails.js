// /core/error-handling/problem-details: every error response (4xx, 5xx, 4XX/5XX, default) has a body of
// media type application/problem+json (or +xml) only, whose schema declares the RFC 9457 members
// status, title and detail.
const ERROR_CODE = /^([45]\d\d|[45]XX|default)$/i;
const PROBLEM_TYPES = new Set(['application/problem+json', 'application/problem+xml']);
const REQUIRED_MEMBERS = ['status', 'title', 'detail'];

function declaredProperties(schema, seen = new Set()) {
  if (!schema || typeof schema !== 'object' || seen.has(schema)) return new Set();
  seen.add(schema);
  const names = new Set(Object.keys(schema.properties ?? {}));
  for (const part of [...(schema.allOf ?? [])]) {
    for (const name of declaredProperties(part, seen)) names.add(name);
  }
  return names;
}

export default (responses) => {
  if (!responses || typeof responses !== 'object') return [];
  const results = [];
  for (const [code, response] of Object.entries(responses)) {
    if (!ERROR_CODE.test(code) || !response || typeof response !== 'object') continue;
    const content = response.content && typeof response.content === 'object' ? response.content : {};
    const types = Object.keys(content);
    if (types.length === 0) {
      results.push({ message: `Error response ${code} has no body: use application/problem+json (RFC 9457).`, path: [code] });
      continue;
    }
    for (const type of types) {
      if (!PROBLEM_TYPES.has(type.toLowerCase())) {
        results.push({ message: `Error response ${code} uses ${type}: use application/problem+json (RFC 9457).`, path: [code, 'content', type] });
        continue;
      }
      const schema = content[type]?.schema;
      const members = declaredProperties(schema);
      const missing = REQUIRED_MEMBERS.filter((name) => !members.has(name));
      if (!schema || missing.length > 0) {
        results.push({
          message: `The problem schema of error response ${code} lacks ${missing.join(', ') || 'a schema'} (RFC 9457 members status, title, detail).`,
          path: [code, 'content', type],
        });
      }
    }
  }
  return results;
};
