package ratelimit

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"time"

	// go-redis is Redis's own Go client, maintained by Redis: it parses
	// redis:// and rediss:// URLs, pools connections, bounds every call by
	// its context, and runs a script by EVALSHA, falling back to EVAL when
	// the server does not have it yet. None of that is in the standard
	// library.
	"github.com/redis/go-redis/v9"
)

// DefaultTimeout bounds each call to Redis: it is added to a request's
// latency at most, when Redis is slow or unreachable.
const DefaultTimeout = 50 * time.Millisecond

// OnRedisError says what a Redis limiter decides when Redis fails or does
// not answer within its timeout (see the package doc). Its constants are
// prefixed OnError because Local already names the limiter itself.
type OnRedisError int

const (
	// OnErrorLocal decides on this node's own bucket of the key: the
	// limit is enforced per node while Redis is down. The default.
	OnErrorLocal OnRedisError = iota
	// OnErrorDeny refuses the request.
	OnErrorDeny
	// OnErrorAllow allows the request, uncounted.
	OnErrorAllow
)

var onRedisErrorNames = [...]string{OnErrorLocal: "local", OnErrorDeny: "deny", OnErrorAllow: "allow"}

func (o OnRedisError) String() string {
	if o < 0 || int(o) >= len(onRedisErrorNames) {
		return fmt.Sprintf("OnRedisError(%d)", int(o))
	}
	return onRedisErrorNames[o]
}

// MarshalText and UnmarshalText read and write local, deny and allow, so
// that flag.TextVar can set --rate-limit-redis-failure.
func (o OnRedisError) MarshalText() ([]byte, error) { return []byte(o.String()), nil }

func (o *OnRedisError) UnmarshalText(text []byte) error {
	for v, name := range onRedisErrorNames {
		if string(text) == name {
			*o = OnRedisError(v)
			return nil
		}
	}
	return fmt.Errorf("%q is not local, deny or allow", text)
}

// RedisConfig configures a Redis limiter.
type RedisConfig struct {
	// URL is the server's, such as redis://127.0.0.1:6379/0 (rediss:// for
	// TLS), as redis.ParseURL reads it.
	URL string
	// Timeout bounds each call; DefaultTimeout when 0.
	Timeout time.Duration
	// OnError is what to decide when Redis fails; OnErrorLocal when unset.
	OnError OnRedisError
	// Now is the clock of the buckets of OnErrorLocal (time.Now when nil).
	// The shared buckets run on the Redis server's clock.
	Now func() time.Time
}

// Redis keeps the buckets in Redis, shared by every node that uses the same
// server: one limit across the cluster. It is safe for concurrent use.
type Redis struct {
	client  *redis.Client
	script  *redis.Script // takeScript, run by EVALSHA, by EVAL when Redis does not have it yet
	timeout time.Duration
	onError OnRedisError
	local   *Local // for OnErrorLocal
}

var _ Limiter = (*Redis)(nil)

// NewRedis returns a Redis limiter. It does not connect: a node starts, and
// decides by cfg.OnError, while Redis is down.
func NewRedis(cfg RedisConfig) (*Redis, error) {
	opt, err := redis.ParseURL(cfg.URL)
	if err != nil {
		// A url.Error repeats the whole URL, and so its password.
		if ue := (*url.Error)(nil); errors.As(err, &ue) {
			err = ue.Err
		}
		return nil, fmt.Errorf("ratelimit: redis URL: %w", err)
	}
	if cfg.OnError < OnErrorLocal || cfg.OnError > OnErrorAllow {
		return nil, fmt.Errorf("ratelimit: %v is not an OnRedisError", cfg.OnError)
	}
	timeout := cfg.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	// The context of each call carries the timeout; the client must let it
	// bound reads and writes too, and not spend it on waits that cannot fit
	// in it (a second dial 100 ms after the first). Nor does it retry: a
	// retried script whose first run did reach Redis would count a request
	// twice. Once dials have failed PoolSize times, the client fails at
	// once, and probes Redis in the background each second. The URL's own
	// settings (dial_timeout=…) win over these.
	opt.ContextTimeoutEnabled = true
	if opt.MaxRetries == 0 {
		opt.MaxRetries = -1
	}
	if opt.DialTimeout == 0 {
		opt.DialTimeout = timeout
	}
	if opt.ReadTimeout == 0 {
		opt.ReadTimeout = timeout
	}
	if opt.WriteTimeout == 0 {
		opt.WriteTimeout = timeout
	}
	if opt.PoolTimeout == 0 {
		opt.PoolTimeout = timeout
	}
	if opt.DialerRetries == 0 {
		opt.DialerRetries = 1
	}
	return &Redis{client: redis.NewClient(opt), script: redis.NewScript(takeScript), timeout: timeout, onError: cfg.OnError, local: NewLocal(cfg.Now)}, nil
}

// Close closes the connections to Redis.
func (r *Redis) Close() error { return r.client.Close() }

// keyPrefix begins the Redis key of each bucket: keywarden:ratelimit:<key ID>.
const keyPrefix = "keywarden:ratelimit:"

// takeScript is a bucket's take (ratelimit.go) in Redis, on the Redis server's
// clock, so that nodes whose clocks disagree still share one bucket, and in
// one script, so that the read and the write of a bucket are atomic. It is
// the token bucket of Local rather than GCRA (which keeps one timestamp per
// key) so that a key's limit means the same with and without Redis, and a
// node falling back to Local decides the same way. Its hash holds the level
// and the time it was measured (microseconds); the key expires when the
// bucket is full again, at most Window after the key's latest request.
// Numbers are Lua doubles: microseconds since 1970 stay exact (below 2^53).
//
// KEYS[1] is the bucket; ARGV is Limit and Window in microseconds. It
// returns allowed (0 or 1), remaining, reset and retry-after in
// microseconds. Redis 5 or later: a script that reads TIME before it
// writes needs effects replication, the default since 5.
const takeScript = `
local limit = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local b = redis.call('HMGET', KEYS[1], 'level', 'at')
local level = tonumber(b[1]) or 0
local elapsed = math.min(math.max(now - (tonumber(b[2]) or now), 0), window)
level = math.min(math.max(level - elapsed * limit / window, 0), limit)
local allowed, remaining, retry = 0, 0, 0
if level + 1 <= limit then
	level = level + 1
	allowed = 1
	remaining = math.floor(limit - level)
else
	retry = math.ceil((level + 1 - limit) * window / limit)
end
local reset = math.ceil(level * window / limit)
redis.call('HSET', KEYS[1], 'level', string.format('%.17g', level), 'at', string.format('%d', now))
redis.call('PEXPIRE', KEYS[1], math.max(math.ceil(reset / 1000), 1))
return {allowed, remaining, reset, retry}
`

// Allow counts one request of key in its shared bucket. When Redis fails
// it decides by OnError and returns the error too. An invalid Limit is
// refused with an error, without asking Redis.
func (r *Redis) Allow(ctx context.Context, key string, l Limit) (Decision, error) {
	if !l.valid() {
		return Decision{Limit: l.Limit}, errInvalidLimit
	}
	ctx, cancel := context.WithTimeout(ctx, r.timeout)
	defer cancel()
	v, err := r.script.Run(ctx, r.client, []string{keyPrefix + key}, l.Limit, l.Window.Microseconds()).Int64Slice()
	if err == nil && len(v) != 4 {
		err = fmt.Errorf("the script returned %d values, want 4", len(v))
	}
	if err != nil {
		return r.fallback(ctx, key, l, err)
	}
	return Decision{
		Allowed:    v[0] == 1,
		Limit:      l.Limit,
		Remaining:  int(v[1]),
		Reset:      time.Duration(v[2]) * time.Microsecond,
		RetryAfter: time.Duration(v[3]) * time.Microsecond,
	}, nil
}

// fallback decides a request that Redis could not. A Deny says to retry
// after a second: the refusal is Redis's state, not the key's, and a
// Retry-After of 0 would invite an immediate retry. An Allow counts
// nothing, so it reports the whole limit remaining.
func (r *Redis) fallback(ctx context.Context, key string, l Limit, err error) (Decision, error) {
	if errors.Is(err, context.DeadlineExceeded) {
		err = fmt.Errorf("no answer within %v: %w", r.timeout, err)
	}
	err = fmt.Errorf("ratelimit: redis: %w", err)
	switch r.onError {
	case OnErrorDeny:
		return Decision{Limit: l.Limit, Reset: time.Second, RetryAfter: time.Second}, fmt.Errorf("%w: %w", ErrUndecided, err)
	case OnErrorAllow:
		return Decision{Allowed: true, Limit: l.Limit, Remaining: l.Limit}, err
	default:
		d, _ := r.local.Allow(ctx, key, l) // l is valid: no error
		return d, err
	}
}

// LogRedisTo sends the Redis client's own messages (a failed dial, once
// per connection attempt) to logger at warning level, instead of the
// standard logger's unstructured lines. The client's logger is global to
// the process, so the command that serves calls this once.
func LogRedisTo(logger *slog.Logger) {
	redis.SetLogger(redisLogger{logger})
}

type redisLogger struct{ logger *slog.Logger }

func (l redisLogger) Printf(ctx context.Context, format string, v ...any) {
	l.logger.WarnContext(ctx, "redis client", "message", fmt.Sprintf(format, v...))
}
