package server

import (
	"context"
	"testing"

	"github.com/redis/go-redis/v9"

	"perflab/server/redisconn"
)

func embeddedRedis(tb testing.TB) *redis.Client {
	tb.Helper()
	mini, err := redisconn.StartEmbedded()
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(mini.Close)
	rdb, err := newRedisClient(mini.URL(), 2)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { rdb.Close() })
	return rdb
}

// TestCachedLikesOfAnOlderGeneration: a list built from a read that a
// committed change overtook is never served; one built after it is.
func TestCachedLikesOfAnOlderGeneration(t *testing.T) {
	rdb := embeddedRedis(t)
	ctx := context.Background()
	for _, tc := range []struct {
		name   string
		change bool // a change commits between the read and the store
		served bool
	}{
		{"no change in between", false, true},
		{"a change in between", true, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := invalidateLikes(ctx, rdb); err != nil {
				t.Fatal(err)
			}
			list, gen, err := readCachedLikes(ctx, rdb)
			if err != nil || list != nil {
				t.Fatalf("after a change the list is %q (%v), want none", list, err)
			}
			if tc.change {
				if err := invalidateLikes(ctx, rdb); err != nil {
					t.Fatal(err)
				}
			}
			if err := storeLikes(ctx, rdb, gen, []byte(`[]`)); err != nil {
				t.Fatal(err)
			}
			list, _, err = readCachedLikes(ctx, rdb)
			if err != nil {
				t.Fatal(err)
			}
			if got := list != nil; got != tc.served || (got && string(list) != `[]`) {
				t.Fatalf("served %q, want served %v", list, tc.served)
			}
			if ttl := rdb.PTTL(ctx, cacheKey).Val(); ttl <= 0 || ttl > cacheTTL {
				t.Errorf("stored with TTL %s, want up to %s", ttl, cacheTTL)
			}
		})
	}
}

// BenchmarkLikesCache compares one cache hit, one store and one
// invalidation as the study made them (GET, SET, DEL) with the twin's
// (MGET of the list and its generation, SET of the tagged list, INCR and
// DEL in one transaction), on the embedded Redis.
func BenchmarkLikesCache(b *testing.B) {
	rdb := embeddedRedis(b)
	ctx := context.Background()
	list := make([]byte, 400) // the likes list's size
	for i := range list {
		list[i] = 'x'
	}
	rdb.Set(ctx, cacheKey, list, cacheTTL)
	_, gen, _ := readCachedLikes(ctx, rdb)
	for _, bc := range []struct {
		name string
		call func() error
	}{
		{"hit/study GET", func() error { return rdb.Get(ctx, cacheKey).Err() }},
		{"hit/twin MGET with generation", func() error { _, _, err := readCachedLikes(ctx, rdb); return err }},
		{"store/study SET", func() error { return rdb.Set(ctx, cacheKey, list, cacheTTL).Err() }},
		{"store/twin tagged SET", func() error { return storeLikes(ctx, rdb, gen, list) }},
		{"invalidate/study DEL", func() error { return rdb.Del(ctx, cacheKey).Err() }},
		{"invalidate/twin INCR and DEL", func() error { return invalidateLikes(ctx, rdb) }},
	} {
		b.Run(bc.name, func(b *testing.B) {
			for b.Loop() {
				if err := bc.call(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
