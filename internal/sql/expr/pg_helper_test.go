package expr

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// connectPostgres connects to the Postgres named by TIDE_TEST_POSTGRES_URL.
// Without it the test is skipped loudly, or fails under CI=true.
func connectPostgres(t testing.TB) *pgx.Conn {
	t.Helper()
	url := os.Getenv("TIDE_TEST_POSTGRES_URL")
	if url == "" {
		msg := "TIDE_TEST_POSTGRES_URL is not set: the differential test against PostgreSQL did NOT run " +
			"(start one with scripts/peers/postgres.sh and export TIDE_TEST_POSTGRES_URL=$(cat .tools/run/postgres/url))"
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatalf("connect to %s: %v", url, err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	if _, err := conn.Exec(ctx, "SET TimeZone = 'UTC'; SET IntervalStyle = 'postgres'; SET extra_float_digits = 1; SET DateStyle = 'ISO, MDY'"); err != nil {
		t.Fatal(err)
	}
	return conn
}
