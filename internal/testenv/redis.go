package testenv

import (
	"bufio"
	"net"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"
)

// RedisURLVar names the Redis server of the tests; unset, they use the one
// a development machine and CI run on 127.0.0.1:6379.
const RedisURLVar = "KEYWARDEN_TEST_REDIS_URL"

// RedisURL returns the test Redis server's URL, or skips tb (fails it under
// CI) when nothing there answers a PING within a second. The PING is the
// protocol's inline form, so this needs no Redis client.
func RedisURL(tb testing.TB) string {
	tb.Helper()
	u := os.Getenv(RedisURLVar)
	if u == "" {
		u = "redis://127.0.0.1:6379/0"
	}
	parsed, err := url.Parse(u)
	if err != nil {
		tb.Fatalf("%s: %v", RedisURLVar, err)
	}
	host := parsed.Host
	if parsed.Port() == "" {
		host = net.JoinHostPort(parsed.Hostname(), "6379")
	}
	if err := ping(host); err != nil {
		SkipOrFail(tb, "no Redis answers at %s (%v); start one (redis-server) or set %s", host, err, RedisURLVar)
	}
	return u
}

func ping(host string) error {
	c, err := net.DialTimeout("tcp", host, time.Second)
	if err != nil {
		return err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(time.Second))
	if _, err := c.Write([]byte("PING\r\n")); err != nil {
		return err
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		return err
	}
	// +PONG, or -NOAUTH from a server that wants a password: either way a
	// Redis answers, and the URL's password is the test's business.
	if !strings.HasPrefix(line, "+PONG") && !strings.HasPrefix(line, "-NOAUTH") {
		return &net.AddrError{Err: "not a Redis server: " + strings.TrimSpace(line), Addr: host}
	}
	return nil
}
