// Package testenv starts private MariaDB servers for tests.
//
// What it owns: for each call to [StartMariaDB] (or [Start]) it creates a
// fresh data directory in a new temporary directory, initialises it with
// mariadb-install-db, and runs its own mariadbd on 127.0.0.1 at a free port
// and on a unix socket inside that directory, with the binary log on in ROW
// format (server-id 1) so replication- and binlog-based code can be tested.
// The server lives exactly as long as the test (or TestMain) that started it:
// it is shut down and its directory removed on cleanup, and it is killed by
// the kernel (Pdeathsig) if the test binary dies without cleaning up. That
// makes the package Linux-only.
//
// What it must never do:
//
//   - Touch a system server. It never reads my.cnf (every binary gets
//     --no-defaults), never uses the default port, socket or datadir, and
//     never connects anywhere but the socket and port it started itself.
//   - Skip silently. If the MariaDB binaries are missing the test FAILS with
//     a message saying what to install; a test that needs a database and
//     did not run must not look like a test that passed.
package testenv
