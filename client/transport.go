package client

import (
	"bytes"
	"context"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strings"
)

// transport is the RoundTripper of HTTPClient. Like golang.org/x/oauth2's,
// it never changes the caller's request: it sends a clone carrying the
// access token.
type transport struct {
	c    *Client
	base http.RoundTripper // nil: http.DefaultTransport
}

func (t *transport) RoundTrip(req *http.Request) (*http.Response, error) {
	base := t.base
	if base == nil {
		base = http.DefaultTransport
	}
	c := t.c
	if !c.sameOrigin(req.URL) {
		return base.RoundTrip(req)
	}
	ctx := req.Context()
	tok, err := c.current(ctx)
	if err != nil {
		closeBody(req)
		return nil, err
	}
	replayable := req.Body == nil || req.Body == http.NoBody || req.GetBody != nil
	res, err := c.send(base, req, req.Body, tok)
	if err != nil || tok.AccessToken == "" {
		return res, err
	}
	e := authFailure(req, res)
	switch {
	case e == nil:
		return res, nil
	case e.Reason == ReasonTokenExpired && tok.RefreshToken != "":
		// The server's clock is ahead of what this Client estimated.
		// Refresh even when the request cannot be sent again, so that the
		// caller's next attempt succeeds.
		next, err := c.refresh(ctx, tok)
		if err != nil {
			res.Body.Close()
			return nil, err
		}
		if !replayable {
			return res, nil
		}
		res.Body.Close()
		return c.retry(base, req, next)
	case endsSession(e.Reason):
		// A newer pair may have been saved meanwhile (a password change
		// revokes the old session's access tokens; another process may
		// have signed in): then the session that ended is not ours.
		if cur, err := c.store.Load(ctx); err == nil && !cur.IsZero() && cur.AccessToken != tok.AccessToken {
			if !replayable {
				return res, nil
			}
			res.Body.Close()
			return c.retry(base, req, cur)
		}
		res.Body.Close()
		if err := c.clearIf(ctx, tok); err != nil {
			return nil, err
		}
		return nil, signedOut(e)
	}
	return res, nil
}

// retry sends req a second time with tok; it is not retried again.
func (c *Client) retry(base http.RoundTripper, req *http.Request, tok Tokens) (*http.Response, error) {
	var body io.ReadCloser
	if req.GetBody != nil {
		b, err := req.GetBody()
		if err != nil {
			return nil, err
		}
		body = b
	} else if req.Body != nil {
		body = http.NoBody
	}
	res, err := c.send(base, req, body, tok)
	if err != nil {
		return nil, err
	}
	if e := authFailure(req, res); e != nil && endsSession(e.Reason) {
		res.Body.Close()
		if err := c.clearIf(req.Context(), tok); err != nil {
			return nil, err
		}
		return nil, signedOut(e)
	}
	return res, nil
}

// send sends a clone of req with body and tok's access token, and saves a
// pair the response carries before anyone sees the response.
func (c *Client) send(base http.RoundTripper, req *http.Request, body io.ReadCloser, tok Tokens) (*http.Response, error) {
	r := req.Clone(req.Context())
	r.Body = body
	if tok.AccessToken != "" {
		r.Header.Set(headerAccessToken, tok.AccessToken)
	}
	res, err := base.RoundTrip(r)
	if err != nil {
		return nil, err
	}
	if err := c.saveIssued(req.Context(), res); err != nil {
		res.Body.Close()
		return nil, err
	}
	return res, nil
}

// current returns the pair to send a request with, refreshed first if
// the access token is about to expire. A refresh the server refuses for
// now (an outage, a spent budget) leaves the old pair in use while its
// access token is still valid.
func (c *Client) current(ctx context.Context) (Tokens, error) {
	t, err := c.store.Load(ctx)
	if err != nil || t.RefreshToken == "" {
		return t, err
	}
	expiring, expired := c.expiring(t)
	if !expiring {
		return t, nil
	}
	next, err := c.refresh(ctx, t)
	switch {
	case err == nil:
		return next, nil
	case expired || isSignedOut(err) || ctx.Err() != nil:
		return Tokens{}, err
	}
	return t, nil
}

// saveIssued saves the pair a response carries in its headers. It runs
// even if the caller has given up on the request: the server may have
// rotated the session, and losing the new pair would strand it.
func (c *Client) saveIssued(ctx context.Context, res *http.Response) error {
	access, refresh := res.Header.Get(headerAccessToken), res.Header.Get(headerRefreshToken)
	if access == "" || refresh == "" {
		return nil
	}
	t, ac, err := pairOf(access, refresh)
	if err != nil {
		return err
	}
	c.learnClock(ac)
	return c.change(context.WithoutCancel(ctx), func(cur Tokens) (Tokens, bool) {
		return t, cur != t
	})
}

// clearIf clears the store if it still holds used, the pair of a session
// the server has ended.
func (c *Client) clearIf(ctx context.Context, used Tokens) error {
	return c.change(context.WithoutCancel(ctx), func(cur Tokens) (Tokens, bool) {
		mine := !cur.IsZero() && (cur.AccessToken == used.AccessToken || cur.RefreshToken == used.RefreshToken)
		return Tokens{}, mine
	})
}

// sameOrigin reports whether u is on the server this Client signs in to.
func (c *Client) sameOrigin(u *url.URL) bool {
	return u != nil && strings.EqualFold(u.Scheme, c.base.Scheme) && strings.EqualFold(u.Host, c.base.Host)
}

// authFailure returns the UNAUTHENTICATED error of a response, if it has
// one: a 401 of either shape, or a GraphQL response whose operation failed
// for it (those are 200s). The body is read up to maxErrorBody and handed
// back whole.
func authFailure(req *http.Request, res *http.Response) *Error {
	switch {
	case res.StatusCode == http.StatusUnauthorized:
	case res.StatusCode == http.StatusOK && strings.HasSuffix(req.URL.Path, "/graphql") && isJSON(res.Header):
	default:
		return nil
	}
	buf, _ := io.ReadAll(io.LimitReader(res.Body, maxErrorBody+1))
	res.Body = readCloser{io.MultiReader(bytes.NewReader(buf), res.Body), res.Body}
	if len(buf) > maxErrorBody {
		return nil
	}
	e := parseError(res.StatusCode, res.Header, buf)
	if e == nil || e.Code != CodeUnauthenticated {
		return nil
	}
	return e
}

func isJSON(h http.Header) bool {
	mt, _, err := mime.ParseMediaType(h.Get("Content-Type"))
	return err == nil && mt == "application/json"
}

type readCloser struct {
	io.Reader
	io.Closer
}

func closeBody(req *http.Request) {
	if req.Body != nil {
		req.Body.Close()
	}
}
