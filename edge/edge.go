// Package edge is tokengate's HTTP edge: the few decisions every transport
// (the validate-tokens middleware, the REST handlers, the GraphQL handler,
// an adopter's own routes) must make the same way, each made here once.
//
//   - the token header names, and writing a pair of tokens on a response
//     (WriteTokens);
//   - which HTTP status an error code has, and what of an error a client
//     may see (Answer, Status, RegisterCode);
//   - the headers every error answer carries (SetErrorHeaders);
//   - the type of the function that answers a failed request (ErrorWriter);
//   - the route pattern a request is logged and counted under
//     (RoutePattern);
//   - the one strict reader of JSON request bodies (DecodeJSON, ReadBody);
//   - what the middleware learnt of the request's refresh token, so a
//     request is rotated at most once (RefreshOnce);
//   - the request's log fields on every log line (LogHandler).
//
// It imports the domain and nothing else of tokengate; every transport
// points at it.
package edge
