/**
 * Environment for every test file: quiet Powertools (set CITADEL_TEST_LOGS=1 to see handler logs)
 * and no metric flushes to stdout.
 */
process.env.POWERTOOLS_SERVICE_NAME ??= 'citadel-test';
process.env.POWERTOOLS_METRICS_NAMESPACE ??= 'Citadel';
process.env.POWERTOOLS_METRICS_DISABLED ??= 'true';
process.env.POWERTOOLS_LOG_LEVEL ??= process.env.CITADEL_TEST_LOGS ? 'DEBUG' : 'SILENT';
process.env.AWS_REGION ??= 'eu-west-1';
process.env.AWS_ACCESS_KEY_ID ??= 'test-access-key';
process.env.AWS_SECRET_ACCESS_KEY ??= 'test-secret-key';
// Test PostgreSQL servers listen on loopback without TLS; deployed functions always verify TLS.
process.env.CITADEL_DB_TLS ??= 'disable';
