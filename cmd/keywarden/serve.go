package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/keywarden/keywarden"
	"github.com/keywarden/keywarden/internal/cache"
	"github.com/keywarden/keywarden/internal/clientip"
	"github.com/keywarden/keywarden/internal/gcfloor"
	"github.com/keywarden/keywarden/internal/graceperiod"
	"github.com/keywarden/keywarden/internal/httperr"
	"github.com/keywarden/keywarden/internal/metrics"
	"github.com/keywarden/keywarden/internal/postgres"
	"github.com/keywarden/keywarden/internal/ratelimit"
	"github.com/keywarden/keywarden/internal/routetable"
	"github.com/keywarden/keywarden/internal/server"
	// Named so: run.go's usage is the command line's help text.
	keyusage "github.com/keywarden/keywarden/internal/usage"
	"github.com/keywarden/keywarden/internal/webhook/dispatch"
	webhooksend "github.com/keywarden/keywarden/internal/webhook/send"
)

// HTTP server limits. Slow clients must not hold connections open forever,
// and headers are small: keys travel in one header.
const (
	readHeaderTimeout = 5 * time.Second
	readTimeout       = 30 * time.Second
	writeTimeout      = 30 * time.Second
	idleTimeout       = 2 * time.Minute
	maxHeaderBytes    = 64 << 10
)

func (a *app) serve(ctx context.Context, args []string) error {
	fs := a.flagSet("serve")
	sf := addStoreFlags(fs)
	cf := addCatalogueFlags(fs)
	addr := fs.String("addr", "127.0.0.1:8080", "`address` to listen on")
	logFormat := fs.String("log-format", "text", "log format: text or json")
	logLevel := fs.String("log-level", "info", "log level: debug, info, warn or error")
	kf := addKeyPrefixFlags(fs)
	trustedProxies := fs.String("trusted-proxies", "", "comma-separated `CIDRs` of the reverse proxies in front of keywarden, whose X-Forwarded-For and X-Forwarded-Proto are believed, e.g. 127.0.0.1/32,10.0.0.0/8")
	cacheSize := fs.Int("cache-size", cache.DefaultSize, "how many keys the verification cache holds (about 60 bytes each); with more keys in the database, a miss asks the database")
	hotSize := fs.Int("cache-hot-size", cache.DefaultHotSize, "how many keys in use the verification cache holds whole (about 270 bytes each); any other key is read from the database at its first successful use")
	cachePoll := fs.Duration("cache-poll", 250*time.Millisecond, "how often to read the key change feed, so that keys deleted by other processes on the database (the command line) stop working here; must be under --cache-max-staleness")
	maxStaleness := fs.Duration("cache-max-staleness", cache.DefaultMaxStaleness, "how far behind the key change feed the verification cache may be and still answer from memory: past it (a stalled or unreachable database), keys are checked against the database or refused with 503, and /readyz answers 503")
	propagation := fs.Duration("cache-propagation-window", cache.DefaultPropagationWindow, "how far behind the key change feed the verification cache may be and still refuse an unknown key from memory (further behind, it reads the feed first); on PostgreSQL, creating, rotating or editing a key waits this long before answering, so that every node knows the key at its first use. At most --cache-max-staleness, the same on every node, and best over --cache-poll (else misses read the feed between polls)")
	routesFile := fs.String("routes", "", "forward-auth route table (YAML `file`): which requests to the services behind a gateway need which scopes; reloaded on SIGHUP")
	authFailures := fs.Int("auth-failures-per-minute", server.DefaultAuthFailuresPerIP, "failed authentications a client address may make per minute before it is refused with 429 for the rest of the minute")
	metricsAddr := fs.String("metrics-addr", "", "serve /metrics on this `address` instead of the main one, e.g. 127.0.0.1:9090")
	usageFlush := fs.Duration("usage-flush-interval", keyusage.DefaultFlushInterval, "how often each key's last use and hourly usage counts are written to the database, in one transaction for all keys; a crash loses at most this much usage (at most an hour)")
	redisURL := fs.String("redis-url", "", "Redis `URL` (redis://host:6379/0, rediss:// for TLS) where keys' rate limits are counted across all nodes together; without it each node counts on its own")
	redisURLFile := fs.String("redis-url-file", "", "read the Redis URL from `file` (one line), so that its password is in neither the environment nor the process list")
	var redisFailure ratelimit.OnRedisError
	fs.TextVar(&redisFailure, "rate-limit-redis-failure", ratelimit.OnErrorLocal, "what a rate limit decides when Redis is unreachable or slower than --redis-timeout: local (count on this node alone), deny (refuse with 503) or allow (let the request through uncounted)")
	redisTimeout := fs.Duration("redis-timeout", ratelimit.DefaultTimeout, "how long a rate limit waits for Redis before --rate-limit-redis-failure decides")
	webhookInterval := fs.Duration("webhook-poll", dispatch.DefaultInterval, "how often each node queues new key events for webhooks and sends the deliveries that are due")
	shutdownTimeout := fs.Duration("shutdown-timeout", 15*time.Second, "how long to let in-flight requests finish on SIGINT/SIGTERM")
	tf := addTLSFlags(fs)
	wf := addWebhookFlags(fs)
	if err := a.parse(fs, args); err != nil {
		return err
	}
	if err := kf.validate(a); err != nil {
		return err
	}
	if *cachePoll <= 0 || *cachePoll >= *maxStaleness {
		return fmt.Errorf("%w: %s (%v) must be positive and under %s (%v): every read of the feed keeps the cache fresh for the latter",
			errUsage, a.setting("cache-poll"), *cachePoll, a.setting("cache-max-staleness"), *maxStaleness)
	}
	if *propagation <= 0 || *propagation > *maxStaleness {
		return fmt.Errorf("%w: %s (%v) must be positive and at most %s (%v)",
			errUsage, a.setting("cache-propagation-window"), *propagation, a.setting("cache-max-staleness"), *maxStaleness)
	}
	if *cacheSize <= 0 || *cacheSize > cache.MaxSize {
		return fmt.Errorf("%w: %s (%d) must be between 1 and %d", errUsage, a.setting("cache-size"), *cacheSize, cache.MaxSize)
	}
	if *hotSize <= 0 {
		return fmt.Errorf("%w: %s (%d) must be positive", errUsage, a.setting("cache-hot-size"), *hotSize)
	}
	if *usageFlush <= 0 || *usageFlush > time.Hour {
		return fmt.Errorf("%w: %s (%v) must be positive and at most an hour", errUsage, a.setting("usage-flush-interval"), *usageFlush)
	}
	clientIPs, err := clientip.Parse(*trustedProxies)
	if err != nil {
		return fmt.Errorf("%w: %s: %v", errUsage, a.setting("trusted-proxies"), err)
	}
	logOutput, closeLog, err := a.newLogger(*logFormat, *logLevel)
	if err != nil {
		return err
	}
	defer closeLog()
	logger := slog.New(logOutput.Handler())
	limiter, err := a.rateLimiter(*redisURL, *redisURLFile, redisFailure, *redisTimeout, logger)
	if err != nil {
		return err
	}
	if c, ok := limiter.(io.Closer); ok {
		defer c.Close()
	}
	tlsConfig, err := tf.config(a, logger)
	if err != nil {
		return err
	}
	webhookBox, err := wf.box(a)
	if err != nil {
		return err
	}
	if webhookBox != nil {
		logger.Info("webhook secret key loaded", "current_key_id", webhookBox.CurrentKeyID(), "allow_private", wf.allowPrivate)
	} else {
		logger.Info("no webhook secret key (--webhook-secret-key-file): webhooks cannot be created or given new secrets")
	}

	// The one catalogue of this process: the cache, the server and the route
	// table all turn scope names into bits with it (keywarden.ScopeSet).
	catalogue, err := cf.catalogue()
	if err != nil {
		return err
	}
	logger.Info("scope catalogue ready", "scopes", len(catalogue.All()), "scopes_file", cf.scopesFile, "fingerprint", catalogue.Fingerprint())
	routes, err := loadRoutes(*routesFile, catalogue)
	if err != nil {
		return err
	}
	if t := routes.Load(); t != nil {
		logger.Info("forward-auth route table loaded", "file", t.Source(), "routes", len(t.Routes()))
	}
	if len(clientIPs.Trusted()) > 0 {
		logger.Info("trusting X-Forwarded-For and X-Forwarded-Proto from proxies", "trusted_proxies", *trustedProxies)
	}
	stopReloading := reloadRoutesOnHangup(ctx, *routesFile, catalogue, routes, logger)
	defer stopReloading()

	store, err := a.openStore(ctx, sf)
	if err != nil {
		return err
	}
	defer store.Close()
	// Every node follows the key change feed; on PostgreSQL a LISTEN wakes
	// it as soon as another node commits a deletion.
	var wake chan struct{}
	// On SQLite this node is the only server: its own changes reach its
	// cache before it answers (server.Config.KeyPropagation).
	var keyPropagation time.Duration
	if pg, ok := store.(*postgres.DB); ok {
		keyPropagation = *propagation
		logger.Info("database ready", "driver", "postgres", "database", pg.Redacted())
		wake = make(chan struct{}, 1)
		listenCtx, stopListening := context.WithCancel(ctx)
		defer stopListening()
		go pg.ListenKeyChanges(listenCtx, wake, func(msg string, err error) {
			if err != nil {
				logger.Warn("key change notifications: "+msg, "error", err)
			} else {
				logger.Info("key change notifications: " + msg)
			}
		})
	} else {
		logger.Info("database ready", "driver", "sqlite", "data_dir", sf.dataDir)
	}

	setupToken, err := a.setupToken(ctx, store)
	if err != nil {
		return err
	}

	// The store reports every operation to the metrics, behind the
	// verification cache: what the cache answers never reaches the store or
	// its metrics.
	m := metrics.New()
	store.ObserveWith(m)
	keys := cache.New(store, cache.Config{Size: *cacheSize, HotSize: *hotSize, MaxStaleness: *maxStaleness, PropagationWindow: *propagation, Catalogue: catalogue, Now: a.now, Metrics: m})

	watchCtx, stopWatch := context.WithCancel(ctx)
	defer stopWatch()
	if err := keys.Watch(watchCtx, *cachePoll, wake, func(err error) {
		logger.Error("key change feed unreadable: keys are checked against the database (or refused) until it is read again", "error", err)
	}); err != nil {
		return err
	}
	// A heap goal of at least 64 MB: with a small live heap, Go's default
	// pace collects several times a second under load (gcfloor).
	go gcfloor.Run(watchCtx, gcfloor.DefaultFloor, time.Second)
	// Rotations' grace periods end on every node by the clock; one node
	// then records each end (graceperiod).
	sweeper := &graceperiod.Sweeper{Store: store, Now: a.now, Logger: logger, Changed: keys.Sync}
	go sweeper.Run(watchCtx, graceperiod.DefaultInterval)
	// Webhook events go out from a durable queue that every node serves
	// (dispatch): queued once, each delivery held by one node at a time.
	dispatcher := &dispatch.Dispatcher{Store: store, Box: webhookBox, Now: a.now, Logger: logger,
		Sender: webhooksend.New(webhooksend.Config{AllowPrivate: wf.allowPrivate, Now: a.now})}
	go dispatcher.Run(watchCtx, *webhookInterval)

	// Key usage is added up in memory and written every --usage-flush-interval.
	// Close, deferred after store.Close and so run before it, and after
	// srv.Shutdown below has stopped the requests, writes the last of it.
	recorder := keyusage.New(store, keyusage.Config{FlushInterval: *usageFlush, Now: a.now, Logger: logger, Observer: m})
	defer recorder.Close()
	handler := server.NewHandler(server.Config{
		Store:             store,
		Keys:              keys,
		KeyPropagation:    keyPropagation,
		Usage:             recorder,
		Verifier:          &keywarden.Verifier{Keys: keys, Processes: keys, Now: a.now},
		Metrics:           m,
		ServeMetrics:      *metricsAddr == "",
		Catalogue:         catalogue,
		Logger:            logger,
		LogOutput:         logOutput,
		Now:               a.now,
		OrgKeyPrefix:      kf.org,
		ProcessKeyPrefix:  kf.process,
		SetupToken:        setupToken,
		ClientIPs:         clientIPs,
		RateLimiter:       limiter,
		AuthFailuresPerIP: *authFailures,
		ForwardRoutes:     routes.Load,

		WebhookBox:          webhookBox,
		WebhookAllowPrivate: wf.allowPrivate,
	})
	srv := &http.Server{
		Handler:           handler,
		ReadHeaderTimeout: readHeaderTimeout,
		ReadTimeout:       readTimeout,
		WriteTimeout:      writeTimeout,
		IdleTimeout:       idleTimeout,
		MaxHeaderBytes:    maxHeaderBytes,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
		BaseContext:       func(net.Listener) context.Context { return context.WithoutCancel(ctx) },
		// Each connection's peer address is read once, not per request.
		ConnContext: clientip.ConnContext,
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return err
	}
	// net/http answers requests it cannot parse by itself, in plain text;
	// httperr makes those answers problem documents like every other
	// error, and terminates TLS (below its rewriting) when configured.
	ln = httperr.NewListener(ln, httperr.Config{Header: server.ProblemHeaders, Now: a.now, TLS: tlsConfig,
		HandshakeTimeout: readHeaderTimeout, Logger: logger})
	baseURL := "http://" + ln.Addr().String()
	if tlsConfig != nil {
		baseURL = "https://" + ln.Addr().String()
	}
	served := make(chan error, 2)
	if *metricsAddr != "" {
		mln, err := net.Listen("tcp", *metricsAddr)
		if err != nil {
			return err
		}
		// Plain HTTP even with --tls-cert: the page holds no secret, and
		// --metrics-addr is meant for a private address.
		mln = httperr.NewListener(mln, httperr.Config{Header: server.ProblemHeaders, Now: a.now})
		msrv := &http.Server{Handler: m.Handler(), ReadHeaderTimeout: readHeaderTimeout, WriteTimeout: writeTimeout}
		go func() { served <- msrv.Serve(mln) }()
		defer msrv.Close()
		logger.Info("metrics listening", "addr", mln.Addr().String())
	}
	if setupToken != "" {
		// The one secret this log ever carries, by design: it proves that
		// whoever sets up Keywarden can read the server's log. It stops
		// working once the first organization exists.
		logger.Info("first run: open the setup page to create the first organization",
			"setup_url", baseURL+"/setup?token="+setupToken)
	}
	// Logged last: tests (and people) take it to mean everything is up.
	logger.Info("listening", "addr", ln.Addr().String(), "url", baseURL)

	go func() { served <- srv.Serve(ln) }()
	select {
	case err := <-served:
		return err
	case <-ctx.Done():
	}
	// Stop accepting, let in-flight requests finish, then write the last
	// key usage and close the store (both deferred above) so every
	// acknowledged write is on disk.
	logger.Info("shutting down")
	sctx, cancel := context.WithTimeout(context.Background(), *shutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	if err := <-served; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	logger.Info("stopped")
	return nil
}

// loadRoutes loads the forward-auth route table of --routes, if any. An
// invalid file stops the server: its errors name the file and line.
func loadRoutes(file string, c *keywarden.Catalogue) (*atomic.Pointer[routetable.Table], error) {
	routes := &atomic.Pointer[routetable.Table]{}
	if file == "" {
		return routes, nil
	}
	t, err := routetable.Load(file, c)
	if err != nil {
		return nil, fmt.Errorf("--routes: %w", err)
	}
	routes.Store(t)
	return routes, nil
}

// reloadRoutesOnHangup reloads the route table from file on every SIGHUP
// until ctx ends or the returned function is called. A file that no longer
// loads leaves the table in force and logs why, so a typo cannot open or
// close the gateway by accident. Without --routes, SIGHUP is logged and
// otherwise ignored rather than killing the server.
func reloadRoutesOnHangup(ctx context.Context, file string, c *keywarden.Catalogue, routes *atomic.Pointer[routetable.Table], logger *slog.Logger) (stop func()) {
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	done := make(chan struct{})
	go func() {
		for {
			select {
			case <-ctx.Done():
				return
			case <-done:
				return
			case <-hup:
			}
			if file == "" {
				logger.Info("SIGHUP: no route table to reload (--routes is not set)")
				continue
			}
			t, err := routetable.Load(file, c)
			if err != nil {
				logger.Error("route table not reloaded: keeping the previous one", "file", file, "error", err)
				continue
			}
			routes.Store(t)
			logger.Info("route table reloaded", "file", file, "routes", len(t.Routes()))
		}
	}()
	return func() {
		signal.Stop(hup)
		close(done)
	}
}

// keyPrefixFlags configure the prefixes of new key IDs.
type keyPrefixFlags struct{ org, process string }

func addKeyPrefixFlags(fs *flag.FlagSet) *keyPrefixFlags {
	kf := &keyPrefixFlags{}
	fs.StringVar(&kf.org, "org-key-prefix", keywarden.DefaultOrgKeyPrefix, "prefix of new organization key IDs")
	fs.StringVar(&kf.process, "process-key-prefix", keywarden.DefaultProcessKeyPrefix, "prefix of new process key IDs")
	return kf
}

func (kf *keyPrefixFlags) validate(a *app) error {
	for _, f := range []struct{ name, prefix string }{{"org-key-prefix", kf.org}, {"process-key-prefix", kf.process}} {
		if !keywarden.ValidKeyPrefix(f.prefix) {
			return fmt.Errorf("%w: %s=%q: want a lower-case letter, then letters, digits or '_', ending in '_', at most 32 characters", errUsage, a.setting(f.name), f.prefix)
		}
	}
	if kf.org == kf.process {
		return fmt.Errorf("%w: organization and process keys need different prefixes", errUsage)
	}
	return nil
}

// setupToken returns a fresh one-time token for the setup page when no
// organization exists yet, and "" otherwise.
func (a *app) setupToken(ctx context.Context, store keywarden.Store) (string, error) {
	_, total, err := store.FindOrganizations(ctx, keywarden.Page{Limit: 1})
	if err != nil || total > 0 {
		return "", err
	}
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

// rateLimiter returns the limiter of keys' rate limits: Redis when a URL is
// given (from --redis-url or --redis-url-file, not both), each node on its
// own otherwise.
func (a *app) rateLimiter(url, urlFile string, onError ratelimit.OnRedisError, timeout time.Duration, logger *slog.Logger) (ratelimit.Limiter, error) {
	if url != "" && urlFile != "" {
		return nil, fmt.Errorf("%w: %s and %s are both set: give the Redis URL one way", errUsage, a.setting("redis-url"), a.setting("redis-url-file"))
	}
	if urlFile != "" {
		var err error
		if url, err = secretFromFile(a.setting("redis-url-file"), urlFile); err != nil {
			return nil, err
		}
	}
	if url == "" {
		return ratelimit.NewLocal(a.now), nil
	}
	if timeout <= 0 {
		return nil, fmt.Errorf("%w: %s must be positive", errUsage, a.setting("redis-timeout"))
	}
	ratelimit.LogRedisTo(logger)
	r, err := ratelimit.NewRedis(ratelimit.RedisConfig{URL: url, Timeout: timeout, OnError: onError, Now: a.now})
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %v", errUsage, a.setting("redis-url"), err)
	}
	return r, nil
}
