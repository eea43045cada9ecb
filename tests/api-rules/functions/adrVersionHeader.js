// /core/version-header: a response declares the API-Version header (header names are case-insensitive).
export default (response, options) => {
  const wanted = String(options?.header ?? 'API-Version').toLowerCase();
  if (response === null || typeof response !== 'object') return [];
  const headers = response.headers && typeof response.headers === 'object' ? Object.keys(response.headers) : [];
  if (headers.some((name) => name.toLowerCase() === wanted)) return [];
  return [{ message: `The response does not declare the ${options?.header ?? 'API-Version'} header.` }];
};
