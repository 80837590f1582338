package io.cdcindexer.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.NavigableMap;
import java.util.TreeMap;

/**
 * Turns one index's changes into a feed of created, updated and deleted documents, by polling.
 *
 * <p>Every write to a shard gets the next sequence number ({@code _seq_no}), and a document carries the number of its
 * last write. So per shard: documents with a sequence number above the highest one seen are new or updated (which one
 * is known from the ids seen before, and the previous source gives the diff). Deletes leave nothing to search for;
 * instead, the shard's count of documents up to that number no longer equals the number of documents known there.
 * Range counts over sequence numbers then narrow the difference down to a few hundred documents, which are read and
 * compared, and a real-time multi-get confirms which missing ones are gone. Each poll costs two small requests per
 * shard, plus a few when the counts differ.
 */
public final class IndexWatcher {

    /** What happened to a document. */
    public enum Kind { CREATED, UPDATED, DELETED }

    /** One change: its kind, the document id, its new source (null if deleted) and its previous source if known. */
    public record Change(Kind kind, String index, String id, JsonNode source, JsonNode previous) {
        /** The line watch prints: {@code updated users/1 email: "a" → "b"}. */
        public String describe() {
            String name = shortName(index) + "/" + id;
            return switch (kind) {
                case CREATED -> "created " + name + " " + Json.compact(source);
                case UPDATED -> "updated " + name + " "
                        + (previous == null ? Json.compact(source) : FieldDiff.describe(previous, source));
                case DELETED -> "deleted " + name;
            };
        }
    }

    /** Above this many documents, old sources are not kept: updates of documents not seen change show in full. */
    static final int SOURCE_CACHE_LIMIT = 200_000;
    private static final int PAGE_SIZE = 1_000;
    private static final int BUCKETS = 32;
    private static final int CONFIRM_AT_MOST = 200;

    private record Known(int shard, long seqNo, String source) {}

    private final ElasticsearchHttp es;
    private final String index;
    private final Map<String, Known> documents = new HashMap<>();
    private final List<NavigableMap<Long, String>> liveBySeqNo = new ArrayList<>();
    /** Changes found by a poll that failed before it could return them (Elasticsearch stopped answering midway). */
    private final List<Change> unreported = new ArrayList<>();
    private final long[] highestSeqNo;
    private boolean cacheSources = true;

    /**
     * @param reportExisting report the documents already there as created (for an index that appears while watching);
     *     otherwise they are only remembered
     */
    public IndexWatcher(ElasticsearchHttp es, String index, boolean reportExisting) {
        this.es = es;
        this.index = index;
        int shards = es.shardCount(index);
        this.highestSeqNo = new long[shards];
        for (int shard = 0; shard < shards; shard++) {
            liveBySeqNo.add(new TreeMap<>());
            highestSeqNo[shard] = -1;
        }
        if (!reportExisting) {
            cacheSources = es.count(index) <= SOURCE_CACHE_LIMIT;
            poll();
        }
    }

    public String index() {
        return index;
    }

    /** Documents known in the index. */
    public int size() {
        return documents.size();
    }

    /**
     * The changes since the last poll, in write order per shard. Should Elasticsearch fail in the middle of a poll,
     * the changes found before are reported by the next one: they are part of what it has seen.
     */
    public List<Change> poll() {
        for (int shard = 0; shard < highestSeqNo.length; shard++) {
            writesSince(shard, unreported);
            reconcile(shard, unreported);
        }
        List<Change> changes = new ArrayList<>(unreported);
        unreported.clear();
        return changes;
    }

    private void writesSince(int shard, List<Change> changes) {
        while (true) {
            JsonNode hits = search(shard, highestSeqNo[shard] + 1, Long.MAX_VALUE);
            for (JsonNode hit : hits) {
                record(shard, hit, changes);
                highestSeqNo[shard] = Math.max(highestSeqNo[shard], hit.path("_seq_no").asLong());
            }
            if (hits.size() < PAGE_SIZE) {
                return;
            }
        }
    }

    /** Takes in one search hit: a document not known yet is created, one known with another seqNo was updated. */
    private void record(int shard, JsonNode hit, List<Change> changes) {
        String id = hit.path("_id").asText();
        long seqNo = hit.path("_seq_no").asLong();
        Known before = documents.get(id);
        if (before != null && before.seqNo() == seqNo) {
            return; // seen already
        }
        if (before != null) {
            liveBySeqNo.get(before.shard()).remove(before.seqNo());
        }
        JsonNode source = hit.get("_source");
        documents.put(id, new Known(shard, seqNo, cacheSources && source != null ? Json.compact(source) : null));
        liveBySeqNo.get(shard).put(seqNo, id);
        JsonNode previous = before == null || before.source() == null ? null : Json.parse(before.source(), "source");
        changes.add(new Change(before == null ? Kind.CREATED : Kind.UPDATED, index, id,
                source == null ? Json.object() : source, previous));
    }

    /**
     * Up to {@link #PAGE_SIZE} documents with a sequence number in [from, to), in sequence order.
     */
    private JsonNode search(int shard, long from, long to) {
        ObjectNode search = Json.object().put("size", PAGE_SIZE).put("seq_no_primary_term", true);
        search.putObject("query").putObject("range").putObject("_seq_no").put("gte", from).put("lt", to);
        // unmapped_type: an index that was just created may have no mapping yet, and then cannot sort on _seq_no.
        search.putArray("sort").addObject().putObject("_seq_no").put("order", "asc").put("unmapped_type", "long");
        if (!cacheSources) {
            search.put("_source", false);
        }
        return es.post(searchPath(shard), search).path("hits").path("hits");
    }

    /**
     * Compares the shard's document count up to the highest sequence number seen with the documents known there. Fewer
     * means deletes; more means writes that became visible after a later one was seen (concurrent bulk requests).
     */
    private void reconcile(int shard, List<Change> changes) {
        NavigableMap<Long, String> live = liveBySeqNo.get(shard);
        if (highestSeqNo[shard] < 0) {
            return;
        }
        ObjectNode count = Json.object();
        count.set("query", upTo(highestSeqNo[shard]));
        long inIndex = es.post("/" + ElasticsearchHttp.encode(index) + "/_count?preference=_shards:" + shard, count)
                .path("count").asLong();
        if (inIndex != live.size()) {
            narrowDown(shard, 0, highestSeqNo[shard] + 1, changes);
        }
    }

    /** Finds what differs among the documents with a sequence number in [from, to), by range counts. */
    private void narrowDown(int shard, long from, long to, List<Change> changes) {
        NavigableMap<Long, String> range = liveBySeqNo.get(shard).subMap(from, true, to, false);
        if (range.size() <= CONFIRM_AT_MOST) {
            reconcileRange(shard, from, to, changes);
            return;
        }
        List<Long> bounds = bucketBounds(range, BUCKETS, from, to);
        ObjectNode search = Json.object().put("size", 0);
        search.set("query", upTo(highestSeqNo[shard]));
        ArrayNode ranges = search.putObject("aggs").putObject("buckets").putObject("range").put("field", "_seq_no")
                .putArray("ranges");
        for (int i = 0; i + 1 < bounds.size(); i++) {
            ranges.addObject().put("from", bounds.get(i)).put("to", bounds.get(i + 1));
        }
        JsonNode buckets = es.post(searchPath(shard), search).path("aggregations").path("buckets").path("buckets");
        for (int i = 0; i + 1 < bounds.size(); i++) {
            long known = liveBySeqNo.get(shard).subMap(bounds.get(i), true, bounds.get(i + 1), false).size();
            if (buckets.path(i).path("doc_count").asLong() != known) {
                narrowDown(shard, bounds.get(i), bounds.get(i + 1), changes);
            }
        }
    }

    /** Reads every document of a small range and compares it with what is known there. */
    private void reconcileRange(int shard, long from, long to, List<Change> changes) {
        List<String> missing = new ArrayList<>(liveBySeqNo.get(shard).subMap(from, true, to, false).values());
        java.util.Set<String> seen = new java.util.HashSet<>();
        for (long next = from; next < to; ) {
            JsonNode hits = search(shard, next, to);
            for (JsonNode hit : hits) {
                seen.add(hit.path("_id").asText());
                record(shard, hit, changes);
                next = hit.path("_seq_no").asLong() + 1;
            }
            if (hits.size() < PAGE_SIZE) {
                break;
            }
        }
        missing.removeAll(seen);
        confirmDeleted(missing, changes);
    }

    /**
     * Bucket boundaries over [from, to) that split the known sequence numbers into about {@code buckets} parts of equal
     * size: the first boundary is {@code from}, the last {@code to}.
     */
    static List<Long> bucketBounds(NavigableMap<Long, String> range, int buckets, long from, long to) {
        List<Long> bounds = new ArrayList<>();
        bounds.add(from);
        int step = Math.max(1, (range.size() + buckets - 1) / buckets);
        int i = 0;
        for (Long seqNo : range.keySet()) {
            if (i++ % step == 0 && seqNo > from) {
                bounds.add(seqNo);
            }
        }
        bounds.add(to);
        return bounds;
    }

    /** Asks for the candidates in real time; those not found are deleted (those found were updated meanwhile). */
    private void confirmDeleted(List<String> candidates, List<Change> changes) {
        if (candidates.isEmpty()) {
            return;
        }
        ObjectNode request = Json.object();
        ArrayNode ids = request.putArray("ids");
        candidates.forEach(ids::add);
        JsonNode found = es.post("/" + ElasticsearchHttp.encode(index) + "/_mget?_source=false", request).path("docs");
        for (Iterator<JsonNode> it = found.elements(); it.hasNext(); ) {
            JsonNode doc = it.next();
            if (!doc.path("found").asBoolean()) {
                String id = doc.path("_id").asText();
                Known known = documents.remove(id);
                if (known != null) {
                    liveBySeqNo.get(known.shard()).remove(known.seqNo());
                    changes.add(new Change(Kind.DELETED, index, id, null,
                            known.source() == null ? null : Json.parse(known.source(), "source")));
                }
            }
        }
    }

    private static ObjectNode upTo(long seqNo) {
        ObjectNode query = Json.object();
        query.putObject("range").putObject("_seq_no").put("lte", seqNo);
        return query;
    }

    private String searchPath(int shard) {
        return "/" + ElasticsearchHttp.encode(index) + "/_search?preference=_shards:" + shard;
    }

    /** cdc.public.users becomes users: every index of the pipeline has the same prefix. */
    static String shortName(String index) {
        String prefix = CapturedTable.TOPIC_PREFIX + ".public.";
        return index.startsWith(prefix) ? index.substring(prefix.length()) : index;
    }
}
