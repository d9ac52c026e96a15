// Package jwkstest checks tokengate's tokens with a real third-party
// verifier: jwks_test.go starts the binary and has verify.mjs, on jose's
// createRemoteJWKSet, verify its access tokens from the published JWKS
// across a rotation and a retirement. It has no Go API.
package jwkstest
