package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"time"
)

// client is one keep-alive HTTP/1.1 connection, written by hand: the load
// generator shares two cores with the server it measures, and net/http's
// client costs several times more CPU per request than writing a prepared
// request and reading the few response headers that matter. The check
// subcommand uses net/http, where fidelity matters more than cost.
type client struct {
	addr string
	conn net.Conn
	br   *bufio.Reader
	req  []byte
	body []byte
}

// response is what the scenarios need of an answer. body is reused by the
// next round trip.
type response struct {
	status         int
	access         string
	refresh        string
	body           []byte
	connectionDone bool
}

func newClient(addr string) *client {
	return &client{addr: addr}
}

func (c *client) close() {
	if c.conn != nil {
		c.conn.Close()
		c.conn = nil
	}
}

// post sends POST path with the given token headers and JSON body and
// reads the answer. A failed connection is closed; the next call dials.
func (c *client) post(path, accessToken, refreshToken, body string) (response, error) {
	if c.conn == nil {
		conn, err := net.DialTimeout("tcp", c.addr, 5*time.Second)
		if err != nil {
			return response{}, err
		}
		c.conn, c.br = conn, bufio.NewReaderSize(conn, 16<<10)
	}
	c.req = c.req[:0]
	c.req = append(c.req, "POST "...)
	c.req = append(c.req, path...)
	c.req = append(c.req, " HTTP/1.1\r\nHost: "...)
	c.req = append(c.req, c.addr...)
	c.req = append(c.req, "\r\nUser-Agent: tokengate-bench\r\nContent-Type: application/json\r\n"...)
	if accessToken != "" {
		c.req = append(c.req, "X-Access-Token: "...)
		c.req = append(c.req, accessToken...)
		c.req = append(c.req, "\r\n"...)
	}
	if refreshToken != "" {
		c.req = append(c.req, "X-Refresh-Token: "...)
		c.req = append(c.req, refreshToken...)
		c.req = append(c.req, "\r\n"...)
	}
	c.req = append(c.req, "Content-Length: "...)
	c.req = strconv.AppendInt(c.req, int64(len(body)), 10)
	c.req = append(c.req, "\r\n\r\n"...)
	c.req = append(c.req, body...)

	// A deadline per request, so a stuck server fails the request rather
	// than hanging the run.
	c.conn.SetDeadline(time.Now().Add(30 * time.Second))
	if _, err := c.conn.Write(c.req); err != nil {
		c.close()
		return response{}, err
	}
	res, err := c.read()
	if err != nil || res.connectionDone {
		c.close()
	}
	return res, err
}

var (
	hdrContentLength    = []byte("content-length")
	hdrTransferEncoding = []byte("transfer-encoding")
	hdrConnection       = []byte("connection")
	hdrAccessToken      = []byte("x-access-token")
	hdrRefreshToken     = []byte("x-refresh-token")
)

func (c *client) read() (response, error) {
	var res response
	line, err := c.br.ReadSlice('\n')
	if err != nil {
		return res, err
	}
	if len(line) < 12 || !bytes.HasPrefix(line, []byte("HTTP/1.")) {
		return res, fmt.Errorf("malformed status line %q", line)
	}
	if res.status, err = strconv.Atoi(string(line[9:12])); err != nil {
		return res, fmt.Errorf("malformed status line %q", line)
	}
	length, chunked := -1, false
	for {
		line, err := c.br.ReadSlice('\n')
		if err != nil {
			return res, err
		}
		line = bytes.TrimRight(line, "\r\n")
		if len(line) == 0 {
			break
		}
		name, value, ok := bytes.Cut(line, []byte(":"))
		if !ok {
			return res, fmt.Errorf("malformed header %q", line)
		}
		value = bytes.TrimSpace(value)
		switch {
		case bytes.EqualFold(name, hdrContentLength):
			if length, err = strconv.Atoi(string(value)); err != nil {
				return res, fmt.Errorf("malformed Content-Length %q", value)
			}
		case bytes.EqualFold(name, hdrTransferEncoding):
			chunked = bytes.EqualFold(value, []byte("chunked"))
		case bytes.EqualFold(name, hdrConnection):
			res.connectionDone = bytes.EqualFold(value, []byte("close"))
		case bytes.EqualFold(name, hdrAccessToken):
			res.access = string(value)
		case bytes.EqualFold(name, hdrRefreshToken):
			res.refresh = string(value)
		}
	}
	c.body = c.body[:0]
	switch {
	case chunked:
		err = c.readChunked()
	case length >= 0:
		if cap(c.body) < length {
			c.body = make([]byte, 0, length)
		}
		c.body = c.body[:length]
		_, err = io.ReadFull(c.br, c.body)
	default:
		return res, errors.New("response without Content-Length or chunked encoding")
	}
	res.body = c.body
	return res, err
}

func (c *client) readChunked() error {
	for {
		line, err := c.br.ReadSlice('\n')
		if err != nil {
			return err
		}
		size, err := strconv.ParseInt(string(bytes.TrimSpace(bytes.SplitN(line, []byte(";"), 2)[0])), 16, 32)
		if err != nil {
			return fmt.Errorf("malformed chunk size %q", line)
		}
		if size == 0 {
			// Trailers, then the blank line.
			for {
				line, err := c.br.ReadSlice('\n')
				if err != nil {
					return err
				}
				if len(bytes.TrimRight(line, "\r\n")) == 0 {
					return nil
				}
			}
		}
		n := len(c.body)
		c.body = append(c.body, make([]byte, size)...)
		if _, err := io.ReadFull(c.br, c.body[n:]); err != nil {
			return err
		}
		if _, err := c.br.Discard(2); err != nil { // the chunk's CRLF
			return err
		}
	}
}
