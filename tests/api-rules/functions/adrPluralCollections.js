// /core/naming-collections: a path segment that is followed by an identifier ({id}) names a collection
// and is a plural noun. Heuristic for Dutch and English: it ends in -s, -en or -ën (gebouwen,
// vergunningen, cases, kinderen, foto's); options.exceptions lists plurals of other forms.
const PLURAL = /(s|en|ën|'s)$/;

export default (pathKey, options) => {
  const exceptions = new Set(options?.exceptions ?? []);
  const segments = String(pathKey).split('/').filter(Boolean);
  const results = [];
  segments.forEach((segment, i) => {
    const next = segments[i + 1];
    if (!next || !/^\{[^}]+\}$/.test(next) || /^\{/.test(segment) || /^v\d+$/.test(segment)) return;
    const word = segment.replace(/^_/, '').split('-').pop();
    if (!PLURAL.test(word) && !exceptions.has(segment)) {
      results.push({ message: `"${segment}" in ${pathKey} names a collection (it is followed by ${next}) but is not plural.` });
    }
  });
  return results;
};
