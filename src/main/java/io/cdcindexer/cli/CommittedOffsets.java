package io.cdcindexer.cli;

import java.util.Objects;
import java.util.Properties;
import java.util.concurrent.TimeUnit;

import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;

/** How many partitions a consumer group has committed offsets for: a sign that a job of that group ran before. */
interface CommittedOffsets {

    /** The number of partitions for which the group has a committed offset (0 for an unknown group). */
    int partitions(String groupId) throws Exception;

    /** Asks the Kafka cluster at these bootstrap servers. */
    static CommittedOffsets in(String bootstrapServers) {
        return in(ConnectionOptions.kafkaClient(bootstrapServers));
    }

    /** Asks the Kafka cluster these client properties point at (ConnectionOptions.kafkaClient). */
    static CommittedOffsets in(Properties client) {
        return groupId -> {
            Properties properties = new Properties();
            properties.putAll(client);
            properties.put(AdminClientConfig.REQUEST_TIMEOUT_MS_CONFIG, 10_000);
            properties.put(AdminClientConfig.DEFAULT_API_TIMEOUT_MS_CONFIG, 15_000);
            try (Admin admin = Admin.create(properties)) {
                return (int) admin.listConsumerGroupOffsets(groupId).partitionsToOffsetAndMetadata()
                        .get(20, TimeUnit.SECONDS).values().stream().filter(Objects::nonNull).count();
            }
        };
    }
}
