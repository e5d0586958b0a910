# Build a static hookd (pure Go: SQLite is modernc.org/sqlite, no cgo) and ship it alone.
FROM golang:1.27.3 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=dev
RUN CGO_ENABLED=0 go build -trimpath -ldflags "-s -w -X main.version=${VERSION}" -o /out/hookd ./cmd/hookd \
 && mkdir -p /out/data

# No shell, no package manager: the binary, CA certificates (for Slack, webhooks and Okta's
# API over TLS), and a data dir owned by the non-root user.
FROM scratch
COPY --from=build /etc/ssl/certs/ca-certificates.crt /etc/ssl/certs/ca-certificates.crt
COPY --from=build /out/hookd /hookd
COPY --from=build --chown=65532:65532 /out/data /data
USER 65532:65532
# The admin listener (console, API, /metrics) listens on the container's own network; publish
# it on the host's loopback only (-p 127.0.0.1:9090:9090). It needs a token off loopback:
# hookd makes one in /data/admin-token on the first start and prints it once.
ENV HOOKD_DATA_DIR=/data HOOKD_LISTEN_ADDR=:8080 HOOKD_ADMIN_ADDR=:9090 HOOKD_ADMIN_TOKEN_FILE=/data/admin-token
EXPOSE 8080 9090
VOLUME ["/data"]
# No shell or curl in the image: hookd checks itself.
HEALTHCHECK --interval=30s --timeout=5s --start-period=10s CMD ["/hookd", "healthcheck"]
ENTRYPOINT ["/hookd"]
CMD ["serve"]
