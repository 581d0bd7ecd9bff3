/**
 * A production configuration that passes every start-up check (src/config.ts), for tests that
 * run the app with NODE_ENV=production. The database URL is never opened: tests hand the app
 * their own database.
 */
export const PRODUCTION: Readonly<Record<string, string>> = {
  NODE_ENV: "production",
  SECRET_KEY: "bW9kZXN0LXRlc3Qta2V5LWZvci10aGUtcHJvZHVjdGlvbi1jaGVja3M-Q7zX2",
  DATABASE_URL: "postgres://unused@127.0.0.1:5432/unused",
  STRIPE_SECRET_KEY: "sk_test_unused",
  STRIPE_PUBLISHABLE_KEY: "pk_test_unused",
  STRIPE_WEBHOOK_SECRET: "whsec_T3stOnlyS1gningSecretF0rProductionChecks",
  ALLOWED_HOSTS: "api.example.com,.example.org",
  EMAIL_HOST: "smtp.invalid",
  CORS_ALLOWED_ORIGINS: "https://app.example.com",
  METRICS_TOKEN: "mt-9f3c1e7a2b5d8046c1e9f7a3b2d5c8e1",
  TRUST_PROXY: "1",
  SECURE_SSL_REDIRECT: "true",
};
