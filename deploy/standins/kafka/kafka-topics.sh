#!/bin/sh
# /opt/kafka/bin/kafka-topics.sh of the official image (the compose healthcheck runs it): Kafka's TopicCommand.
exec java -Xmx256m -XX:+UseSerialGC -XX:TieredStopAtLevel=1 -Xshare:auto \
  -Dlog4j2.configurationFile=/opt/kafka/config/tools-log4j2.properties \
  -cp '/opt/kafka/libs/*' org.apache.kafka.tools.TopicCommand "$@"
