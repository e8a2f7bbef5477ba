package server

import (
	"context"
	"fmt"
	"strings"

	"github.com/redis/go-redis/v9"
)

// The cached likes list, kept true to the database.
//
// The study's view did cache.get("logbook_likes"); on a miss it built
// the list from the database and cache.set it for 60 s; the like and
// unlike tasks changed the database and then cache.delete'd the key. A
// view that read the database before a task's commit and stored its list
// after the task's delete put back a list without that change, and it was
// served for up to 60 s.
//
// The twin closes that gap with a generation counter. A change, once
// committed, increments likesGeneration and deletes the list in one
// transaction (invalidateLikes). A view reads the list and the
// generation in one round trip (readCachedLikes), and on a miss stores
// the list it builds tagged with the generation it read before building
// it (storeLikes). A list is served only while its tag is the current
// generation: one built from a read that a change overtook carries an
// older tag once that change is invalidated, so it is a miss and is
// built again. The cost: MGET of two keys instead of GET of one, and a
// few bytes of tag; no extra round trip, no script.

// readCachedLikes returns the cached list if it is of the current
// generation (nil otherwise), and that generation.
func readCachedLikes(ctx context.Context, rdb *redis.Client) (list []byte, generation string, err error) {
	vals, err := rdb.MGet(ctx, cacheKey, likesGeneration).Result()
	if err != nil {
		return nil, "", err
	}
	if len(vals) != 2 {
		return nil, "", fmt.Errorf("MGET of 2 keys answered %d values", len(vals))
	}
	generation, _ = vals[1].(string)
	if cached, ok := vals[0].(string); ok {
		// JSON has no raw newline, so the first one ends the tag.
		if tag, body, ok := strings.Cut(cached, "\n"); ok && tag == generation {
			list = []byte(body)
		}
	}
	return list, generation, nil
}

// storeLikes caches list, built from a read that began after generation
// was read.
func storeLikes(ctx context.Context, rdb *redis.Client, generation string, list []byte) error {
	return rdb.Set(ctx, cacheKey, generation+"\n"+string(list), cacheTTL).Err()
}

// invalidateLikes marks a committed change to the likes: the generation
// moves on and the cached list goes.
func invalidateLikes(ctx context.Context, rdb *redis.Client) error {
	_, err := rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.Incr(ctx, likesGeneration)
		p.Del(ctx, cacheKey)
		return nil
	})
	return err
}
