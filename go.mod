module github.com/tokengate/tokengate

go 1.26.8

require (
	github.com/google/uuid v1.6.0
	golang.org/x/crypto v0.58.0
	golang.org/x/sync v0.24.0
)
