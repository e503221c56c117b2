package topology

import (
	"strings"
)

// regionPlaceholder in quota.redis.url or quota.redis.key_prefix is
// replaced by each node's region id, as in the link's files
// (internal/pki/config.go's ExpandRegion, which the node uses; the pure
// topology may not import it).
const regionPlaceholder = "{region}"

// quotaRedisForCheck returns the quota store's URL and key prefix as a node
// would read them, with a sample region id in place of "{region}", for the
// checks of their form.
func quotaRedisForCheck(r QuotaRedis) (url, keyPrefix string) {
	return strings.ReplaceAll(r.URL, regionPlaceholder, "region"), strings.ReplaceAll(r.KeyPrefix, regionPlaceholder, "region")
}

// sharedQuotaRedisNote notes a Redis quota store that every region's nodes
// reach with the same URL and key prefix: each limit is then one window
// across the regions, and the server is a dependency of all of them. That
// can be deliberate (a global limit), so it is a note, not an error.
func (c *Config) sharedQuotaRedisNote(p *problems) {
	if c.Quota.Store != "redis" || len(c.Regions) < 2 ||
		strings.Contains(serverOf(c.Quota.Redis.URL), regionPlaceholder) || strings.Contains(c.Quota.Redis.KeyPrefix, regionPlaceholder) {
		return
	}
	p.note("quota.redis.url", "docs/quotas.md#one-redis-or-one-per-region",
		`nodes of the %d regions that read this file share one Redis server and key prefix: each principal's limits count its calls in every region together, and every region needs that server; write "{region}" in url (a server per region) or key_prefix (keys per region) to count each region on its own`, len(c.Regions))
}

// serverOf is the part of a Redis URL that picks the server and database
// (scheme, credentials, host, port and path), without its query: a
// "{region}" in a query parameter (client_name=m-{region}) does not give
// each region a server of its own.
func serverOf(url string) string {
	if i := strings.IndexAny(url, "?#"); i >= 0 {
		return url[:i]
	}
	return url
}
