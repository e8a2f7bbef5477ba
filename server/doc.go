// Package server is the reference twin of the study's stack: a Django REST
// API behind gunicorn workers, a database, a Redis cache, a Celery task
// worker and an SPA that nginx or a CDN edge serves.
//
// Start runs it: N worker processes of this same binary share one
// listening socket (pre-fork, as gunicorn), a task-worker process drains
// a Redis list (as Celery), a process of its own runs the embedded Redis,
// another the edge that serves the SPA from memory (as the CDN), and the
// data lives in SQLite. The instance's processes (workers, task worker,
// Redis) are pinned to its cores, the edge and the calling process (the
// load generator's) to the others (isolation.go). The knobs of Config
// (workers, mode, cache, query, offload, profile, instance CPUs) change
// live with Apply; Stats reports what the processes did.
//
// Where the twin stands in for Python, it spends the named costs of
// profile.go as real CPU; nothing in it returns a canned latency.
package server
