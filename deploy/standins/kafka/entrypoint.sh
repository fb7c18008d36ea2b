#!/bin/sh
# Like the official apache/kafka image: every KAFKA_* variable (except the JVM ones) becomes a line of
# server.properties (KAFKA_NUM_PARTITIONS -> num.partitions; "__" -> "_", "___" -> "-"), the KRaft storage is
# formatted on first start (CLUSTER_ID, or the image's default one), then the broker runs.
set -eu
conf=/opt/kafka/config/server.properties
classpath='/opt/kafka/libs/*'
: >"$conf"
env | sort | while IFS='=' read -r key value; do
  case $key in
    KAFKA_HEAP_OPTS | KAFKA_OPTS | KAFKA_JVM_PERFORMANCE_OPTS | KAFKA_LOG4J_OPTS | KAFKA_GC_LOG_OPTS | KAFKA_JMX_OPTS) ;;
    KAFKA_*)
      name=$(printf '%s' "${key#KAFKA_}" | tr 'A-Z' 'a-z' | sed -e 's/___/-/g' -e 's/__/@/g' -e 's/_/./g' -e 's/@/_/g')
      printf '%s=%s\n' "$name" "$value" >>"$conf" ;;
  esac
done
java_opts="-Dlog4j2.configurationFile=/opt/kafka/config/log4j2.properties -Djava.awt.headless=true"
log_dirs=$(sed -n 's/^log\.dirs=//p' "$conf")
if [ ! -f "${log_dirs%%,*}/meta.properties" ]; then
  # shellcheck disable=SC2086
  java -Xmx256m -XX:+UseSerialGC -XX:TieredStopAtLevel=1 $java_opts -cp "$classpath" kafka.tools.StorageTool \
    format --ignore-formatted -t "${CLUSTER_ID:-5L6g3nShT-eMCtK--X86sw}" -c "$conf"
fi
# shellcheck disable=SC2086
exec java ${KAFKA_HEAP_OPTS:--Xmx1g -Xms1g} -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -XX:+ExplicitGCInvokesConcurrent \
  $java_opts -cp "$classpath" kafka.Kafka "$conf"
