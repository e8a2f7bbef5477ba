package server

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// maxBody is the largest request body the API reads.
const maxBody = 1 << 20

// Connection timeouts of the workers and the edge. requestReadTimeout
// bounds reading one whole request, headers and body, from its first
// byte, as nginx's client timeouts do in front of gunicorn: a client that
// trickles its body is answered 408 and cut off rather than holding a
// connection for ever. idleTimeout closes a keep-alive connection that
// sends nothing.
const (
	requestReadTimeout = 10 * time.Second
	idleTimeout        = 2 * time.Minute
)

// bufferBody reads the request's whole body (up to one byte over
// maxBody, enough for readJSON to answer 413) before the view is
// admitted, as nginx buffers a body before handing the request to a
// gunicorn sync worker: a client sending its body slowly then holds its
// own connection only, never the worker's one view slot. It answers
// 408 or 400 itself when the body does not arrive.
func bufferBody(rw http.ResponseWriter, r *http.Request) bool {
	if r.Body == nil || r.Body == http.NoBody {
		return true
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxBody+1))
	switch {
	case errors.Is(err, os.ErrDeadlineExceeded):
		rw.Header().Set("Connection", "close")
		writeDetail(rw, http.StatusRequestTimeout, fmt.Sprintf("The request body did not arrive within %s; send it whole.", requestReadTimeout))
		return false
	case err != nil:
		writeDetail(rw, http.StatusBadRequest, "Could not read the request body.")
		return false
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	return true
}

// call is one admitted API request: the knobs it runs under and the path
// every database and cache call of it takes.
type call struct {
	w     *worker
	k     knobs
	costs Costs
	// ctx outlives the client: Django does not cancel a view's queries
	// when the client hangs up, and neither does the twin.
	ctx context.Context
	// inBlock is set while a block runs on the executor: its queries are
	// already there and hop no further.
	inBlock bool
	// t is where the request's time goes (the Server-Timing header).
	t *serverTiming
}

// hop runs fn where the mode says database and cache work runs: inline
// in sync mode; in async mode on the worker's one executor thread, after
// paying the hand-off.
func (c *call) hop(fn func()) {
	if !c.k.async || c.inBlock {
		fn()
		return
	}
	// The hand-over is the hop's whole time less the work handed over,
	// which the work's own metric (or the view) counts.
	var inside time.Duration
	start := time.Now()
	burn(c.costs.AsyncHop)
	c.w.exec.do(func() { measure(&inside, fn) })
	c.t.hop += time.Since(start) - inside
	c.t.hops++
}

// block runs fn, a stretch of ORM work that an async view hands over in
// one sync_to_async call: one hop for all the queries in it, as the
// study's async likes view wrapped its whole N+1 loop.
func (c *call) block(fn func()) {
	c.hop(func() {
		c.inBlock = true
		defer func() { c.inBlock = false }()
		fn()
	})
}

// query runs one ORM query: counted, with its declared cost.
func (c *call) query(fn func(ctx context.Context) error) error {
	c.w.board.inc(c.w.slot, sDBQueries)
	var err error
	c.hop(func() {
		measure(&c.t.db, func() {
			burn(c.costs.Query)
			err = fn(c.ctx)
		})
		c.t.queries++
	})
	return err
}

// redis runs one cache or queue call, its time added to *spent (the
// request's cache or broker time). A failure is counted and briefly
// keeps further calls away (see gate); redis.Nil (no such key) is an
// answer, not a failure.
func (c *call) redis(spent *time.Duration, fn func(ctx context.Context) error) error {
	w := c.w
	if !w.redisGate.open() {
		w.board.inc(w.slot, sRedisErrors)
		return errRedisPaused
	}
	var err error
	c.hop(func() { measure(spent, func() { err = fn(c.ctx) }) })
	if err != nil && !errors.Is(err, redis.Nil) {
		w.board.inc(w.slot, sRedisErrors)
		w.redisGate.fail()
	}
	return err
}

// route is one API endpoint.
type route struct {
	methods string // for Allow
	serve   func(w *worker, c *call, rw http.ResponseWriter, r *http.Request, id int64)
}

var (
	signinRoute = route{"POST", (*worker).signin}
	likesRoute  = route{"GET, HEAD", (*worker).likes}
	likeRoute   = route{"POST", (*worker).like}
	unlikeRoute = route{"POST", (*worker).unlike}
)

// testRoutes lets this package's tests add API endpoints (a handler that
// panics, for one); it is empty in the product.
var testRoutes = map[string]route{}

// matchRoute resolves an API path; id is the logbook of like and unlike.
func matchRoute(path string) (route, int64, bool) {
	switch path {
	case "/api/auths/signin/":
		return signinRoute, 0, true
	case "/api/logbooks/likes/":
		return likesRoute, 0, true
	}
	if rt, ok := testRoutes[path]; ok {
		return rt, 0, true
	}
	rest, ok := strings.CutPrefix(path, "/api/logbooks/")
	if !ok {
		return route{}, 0, false
	}
	idText, action, ok := strings.Cut(rest, "/")
	id, err := strconv.ParseInt(idText, 10, 64)
	if !ok || err != nil || id < 1 || strconv.FormatInt(id, 10) != idText {
		return route{}, 0, false
	}
	switch action {
	case "like/":
		return likeRoute, id, true
	case "unlike/":
		return unlikeRoute, id, true
	}
	return route{}, 0, false
}

// serveAPI runs an API view the way the study's stack did: in sync mode
// one view at a time per worker, in async mode any number at once; each
// pays the framework's per-request cost.
func (w *worker) serveAPI(rw http.ResponseWriter, r *http.Request, k knobs, t *serverTiming) {
	if !k.async {
		w.admit <- struct{}{}
		defer func() { <-w.admit }()
	}
	t.admit()
	active := w.board.slot(w.slot, sActive).Add(1)
	w.board.raise(w.slot, sPeakActive, active)
	defer w.board.dec(w.slot, sActive)

	c := &call{w: w, k: k, costs: k.costs(), ctx: context.WithoutCancel(r.Context()), t: t}
	defer w.releaseDB(k)
	burn(c.costs.Request)
	rt, id, ok := matchRoute(r.URL.Path)
	if !ok {
		writeDetail(rw, http.StatusNotFound, "Not found.")
		return
	}
	if !allows(rt.methods, r.Method) {
		rw.Header().Set("Allow", rt.methods)
		writeDetail(rw, http.StatusMethodNotAllowed, fmt.Sprintf("Method \"%s\" not allowed.", r.Method))
		return
	}
	rt.serve(w, c, rw, r, id)
}

// releaseDB ends the request's use of the database where its queries
// ran: in async mode on the executor, as Django closes the DB thread's
// connection there.
func (w *worker) releaseDB(k knobs) {
	release := func() { w.store.release(k.persistent) }
	if k.async {
		w.exec.do(release)
		return
	}
	release()
}

func allows(methods, method string) bool {
	for _, m := range strings.Split(methods, ", ") {
		if m == method {
			return true
		}
	}
	return false
}

// Authentication answers, as SimpleJWT words them.
const (
	detailNoCredentials = "Authentication credentials were not provided."
	detailBadToken      = "Given token not valid for any token type"
	detailNoAccount     = "No active account found with the given credentials"
)

// unauthorized sends a 401 with the challenge DRF sends for JWT.
func unauthorized(rw http.ResponseWriter, detail, code string) {
	rw.Header().Set("WWW-Authenticate", `Bearer realm="api"`)
	body := map[string]string{"detail": detail}
	if code != "" {
		body["code"] = code
	}
	writeValue(rw, http.StatusUnauthorized, body)
}

// authenticate checks the Bearer token and loads its user, one query, as
// SimpleJWT's JWTAuthentication does on every request.
func (w *worker) authenticate(c *call, rw http.ResponseWriter, r *http.Request) (user, bool) {
	h := r.Header.Get("Authorization")
	if h == "" {
		unauthorized(rw, detailNoCredentials, "")
		return user{}, false
	}
	scheme, token, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || token == "" || strings.Contains(token, " ") {
		unauthorized(rw, "Authorization header must contain two space-delimited values", "bad_authorization_header")
		return user{}, false
	}
	id, err := parseAccessToken(w.spec.Secret, token)
	if err != nil {
		unauthorized(rw, detailBadToken, "token_not_valid")
		return user{}, false
	}
	var u user
	err = c.query(func(ctx context.Context) (err error) {
		u, err = w.store.user(ctx, "userByID", id)
		return err
	})
	switch {
	case errors.Is(err, sql.ErrNoRows):
		unauthorized(rw, "User not found", "user_not_found")
		return user{}, false
	case err != nil:
		w.dbFailed(rw, err)
		return user{}, false
	case !u.Active:
		unauthorized(rw, "User is inactive", "user_inactive")
		return user{}, false
	}
	return u, true
}

func (w *worker) dbFailed(rw http.ResponseWriter, err error) {
	w.log.Printf("database: %v", err)
	writeDetail(rw, http.StatusInternalServerError, "A server error occurred.")
}

// readJSON decodes a JSON object body of at most maxBody bytes into v,
// answering 413, 415 or 400 itself when it cannot.
func readJSON(rw http.ResponseWriter, r *http.Request, v any) bool {
	if ct := r.Header.Get("Content-Type"); ct != "" {
		mt, _, err := mime.ParseMediaType(ct)
		if err != nil || mt != "application/json" {
			writeDetail(rw, http.StatusUnsupportedMediaType, fmt.Sprintf("Unsupported media type \"%s\" in request.", ct))
			return false
		}
	}
	body, err := io.ReadAll(http.MaxBytesReader(rw, r.Body, maxBody))
	var tooBig *http.MaxBytesError
	switch {
	case errors.As(err, &tooBig):
		writeDetail(rw, http.StatusRequestEntityTooLarge, "Request body is larger than 1 MiB.")
		return false
	case err != nil:
		writeDetail(rw, http.StatusBadRequest, "Could not read the request body.")
		return false
	}
	if err := json.Unmarshal(body, v); err != nil {
		writeDetail(rw, http.StatusBadRequest, "JSON parse error - "+err.Error())
		return false
	}
	return true
}

// signin is SimpleJWT's TokenObtainPairView: email and password in,
// a refresh and an access token out.
func (w *worker) signin(c *call, rw http.ResponseWriter, r *http.Request, _ int64) {
	var in struct {
		Email    *string `json:"email"`
		Password *string `json:"password"`
	}
	if !readJSON(rw, r, &in) {
		return
	}
	missing := map[string][]string{}
	if in.Email == nil || *in.Email == "" {
		missing["email"] = []string{"This field is required."}
	}
	if in.Password == nil || *in.Password == "" {
		missing["password"] = []string{"This field is required."}
	}
	if len(missing) > 0 {
		writeValue(rw, http.StatusBadRequest, missing)
		return
	}
	var u user
	err := c.query(func(ctx context.Context) (err error) {
		u, err = w.store.user(ctx, "userByEmail", *in.Email)
		return err
	})
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		w.dbFailed(rw, err)
		return
	}
	found := err == nil
	var ok bool
	c.hop(func() {
		if found {
			ok = checkPassword(*in.Password, u.Password)
		} else {
			dummyPasswordCheck(*in.Password)
		}
	})
	if !ok || !u.Active {
		unauthorized(rw, detailNoAccount, "no_active_account")
		return
	}
	now := time.Now()
	refresh, err := mintToken(w.spec.Secret, "refresh", u.ID, now, RefreshTokenLifetime)
	if err == nil {
		var access string
		access, err = mintToken(w.spec.Secret, "access", u.ID, now, AccessTokenLifetime)
		if err == nil {
			writeValue(rw, http.StatusOK, map[string]any{
				"refresh": refresh,
				"access":  access,
				"user":    map[string]any{"id": u.ID, "email": *in.Email, "username": u.Username},
			})
			return
		}
	}
	w.log.Print(err)
	writeDetail(rw, http.StatusInternalServerError, "A server error occurred.")
}

// likeEntry is one item of the likes list.
type likeEntry struct {
	ID    int64    `json:"id"`
	Likes []string `json:"likes"`
}

// likes is the study's GET /api/logbooks/likes/: every logbook with at
// least one like and who liked it, from the cache when it is on.
func (w *worker) likes(c *call, rw http.ResponseWriter, r *http.Request, _ int64) {
	if _, ok := w.authenticate(c, rw, r); !ok {
		return
	}
	var body []byte
	var generation string
	cacheable := false
	if c.k.cache {
		w.flushDirtyCache(c)
		err := c.redis(&c.t.cache, func(ctx context.Context) (err error) {
			body, generation, err = readCachedLikes(ctx, w.rdb)
			return err
		})
		switch {
		case err == nil && body != nil:
			w.board.inc(w.slot, sCacheHits)
			c.t.cacheResult = "hit"
		case err == nil:
			w.board.inc(w.slot, sCacheMisses)
			c.t.cacheResult = "miss"
			cacheable = true
		default:
			c.t.cacheResult = "error"
		}
		// An error was counted; the database answers instead.
	}
	if body == nil {
		var err error
		c.block(func() { body, err = w.likesFromDB(c) })
		if err != nil {
			w.dbFailed(rw, err)
			return
		}
		if cacheable {
			c.redis(&c.t.cache, func(ctx context.Context) error { return storeLikes(ctx, w.rdb, generation, body) })
		}
	}
	writeJSON(rw, http.StatusOK, body)
}

// likesFromDB builds the likes list with the query in force: naive is the
// study's view (per logbook an exists() query, then a values_list() query),
// prefetch is prefetch_related's two queries whatever the logbook count.
func (w *worker) likesFromDB(c *call) ([]byte, error) {
	var ids []int64
	err := c.query(func(ctx context.Context) (err error) {
		ids, err = w.store.logbookIDs(ctx)
		return err
	})
	if err != nil {
		return nil, err
	}
	out := []likeEntry{}
	if c.k.prefetch {
		var byLogbook map[int64][]string
		err := c.query(func(ctx context.Context) (err error) {
			byLogbook, err = w.store.likersIn(ctx, ids)
			return err
		})
		if err != nil {
			return nil, err
		}
		for _, id := range ids {
			if names := byLogbook[id]; len(names) > 0 {
				out = append(out, likeEntry{id, names})
			}
		}
		return json.Marshal(out)
	}
	for _, id := range ids {
		var has bool
		err := c.query(func(ctx context.Context) (err error) {
			has, err = w.store.exists(ctx, "likesExist", id)
			return err
		})
		if err != nil {
			return nil, err
		}
		if !has {
			continue
		}
		var names []string
		err = c.query(func(ctx context.Context) (err error) {
			names, err = w.store.likers(ctx, id)
			return err
		})
		if err != nil {
			return nil, err
		}
		out = append(out, likeEntry{id, names})
	}
	return json.Marshal(out)
}

// flushDirtyCache deletes the cached list after a like was applied while
// Redis was away.
func (w *worker) flushDirtyCache(c *call) {
	if !w.cacheDirty.Load() {
		return
	}
	if c.redis(&c.t.cache, func(ctx context.Context) error { return invalidateLikes(ctx, w.rdb) }) == nil {
		w.cacheDirty.Store(false)
	}
}

// task is one like or unlike on the queue, as Celery's add_like_task and
// remove_like_task take it.
type task struct {
	Name      string `json:"task"`
	LogbookID int64  `json:"logbook_id"`
	UserID    int64  `json:"user_id"`
}

const (
	taskAddLike    = "add_like_task"
	taskRemoveLike = "remove_like_task"
)

func (w *worker) like(c *call, rw http.ResponseWriter, r *http.Request, id int64) {
	w.enqueue(c, rw, r, id, taskAddLike)
}

func (w *worker) unlike(c *call, rw http.ResponseWriter, r *http.Request, id int64) {
	w.enqueue(c, rw, r, id, taskRemoveLike)
}

// enqueue answers 202 once the task is on the queue for the task worker.
// With Redis away the change is applied here instead, so the user's like
// is not lost, and the cache is flushed once Redis is back.
func (w *worker) enqueue(c *call, rw http.ResponseWriter, r *http.Request, logbook int64, name string) {
	u, ok := w.authenticate(c, rw, r)
	if !ok {
		return
	}
	var exists bool
	err := c.query(func(ctx context.Context) (err error) {
		exists, err = w.store.exists(ctx, "logbookExists", logbook)
		return err
	})
	if err != nil {
		w.dbFailed(rw, err)
		return
	}
	if !exists {
		writeDetail(rw, http.StatusNotFound, "No Logbook matches the given query.")
		return
	}
	t := task{Name: name, LogbookID: logbook, UserID: u.ID}
	msg, _ := json.Marshal(t)
	if c.redis(&c.t.broker, func(ctx context.Context) error { return w.rdb.LPush(ctx, taskQueue, msg).Err() }) == nil {
		c.t.brokerResult = "queued"
		writeValue(rw, http.StatusAccepted, map[string]any{"status": "queued", "task": name, "logbook_id": logbook})
		return
	}
	c.t.brokerResult = "error"
	err = c.query(func(ctx context.Context) error { return applyTask(ctx, w.store, t) })
	if err != nil {
		w.dbFailed(rw, err)
		return
	}
	w.cacheDirty.Store(true)
	writeValue(rw, http.StatusAccepted, map[string]any{"status": "applied", "task": name, "logbook_id": logbook})
}

// applyTask changes the database as the task says.
func applyTask(ctx context.Context, s *store, t task) error {
	switch t.Name {
	case taskAddLike:
		return s.exec(ctx, "like", t.LogbookID, t.UserID)
	case taskRemoveLike:
		return s.exec(ctx, "unlike", t.LogbookID, t.UserID)
	}
	return fmt.Errorf("unknown task %q", t.Name)
}
