// Package fishial is the Fishial race, the study's experiment 3: a batch
// of fish photos recognised through a slow external API (the mock in
// perflab/server/fishial) four ways, each a real mechanism in OS
// processes of its own, so that the CPU a strategy spends is its own
// and nothing else's:
//
//	sequential    one process, one thread, one image at a time, a token per image
//	multiprocess  P processes taking images off the parent's queue, one token under the parent's lock
//	distributed   N nodes sharing nothing but a Redis: the queue, the token, the results
//	async         one process, one thread, every image in flight at once
//
// Run races the strategies of a Config, one after another or all at
// once. It reports every finished image as a Progress, and every
// strategy, once its processes have exited, as a Result: wall time, the
// Ideal time the API's latencies allow, speed-up, CPU seconds. CSV and
// WriteTable write those down; Study and Lesson are the study's own
// table and conclusion, shown beside them.
//
// Each image goes through the service's whole flow (download the photo,
// hash it, get a token, ask for a signed upload, PUT the bytes,
// recognise), and the race checks every result against the mock's own
// records, so no strategy finishes early by skipping work.
//
// The processes are this binary re-executed in a child role (see
// perflab/server/proc). Linking this package registers its roles, so a
// program that runs races imports it and calls proc.Main first thing in
// main (and a test binary, in TestMain). A distributed node can also
// run on its own, on any machine (RunNode, `perflab fishial-node`): it
// joins every race whose parent uses the same Redis.
package fishial
