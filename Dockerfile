# syntax=docker/dockerfile:1
# Build a static binary (the SQLite driver is pure Go, so CGO stays off).
FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o /out/tokengate .

# distroless/static runs as the nonroot user (65532) and holds nothing but
# the binary and CA certificates.
FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/tokengate /tokengate
WORKDIR /var/lib/tokengate
USER nonroot:nonroot
EXPOSE 8080
ENTRYPOINT ["/tokengate"]
CMD ["serve"]
