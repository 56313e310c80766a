package escrow

import "strings"

// KopiaVersion is the kopia release Lifeboat links (go.mod requires it;
// a test keeps the two equal): its command line opens the repository, and
// the kit tells a stranger to install that one.
const KopiaVersion = "v0.23.1"

// Blocks are the kit text's command blocks by name: the lines between
// "```sh NAME" and "```". They are the kit's steps as a shell runs them;
// the tests run them as they are printed.
func Blocks(text string) map[string]string {
	out := map[string]string{}

	var (
		name string
		body []string
		in   bool
	)

	for _, line := range strings.Split(text, "\n") {
		switch {
		case !in && strings.HasPrefix(line, "```sh "):
			name, body, in = strings.TrimSpace(strings.TrimPrefix(line, "```sh ")), nil, true
		case in && line == "```":
			out[name], in = strings.Join(body, "\n")+"\n", false
		case in:
			body = append(body, line)
		}
	}

	return out
}

func (k *Kit) lifeboatSteps(p func(string, ...any)) {
	flags := k.Repository.repoFlags()

	p("```sh lifeboat\n")
	p("export LIFEBOAT_PASSWORD=\"$(cat password.txt)\"   # from step 2; delete password.txt when done\n")
	p("lifeboat %s status\n", flags)
	p("lifeboat %s snapshots\n", flags)

	for _, s := range k.Sources {
		switch s.Type {
		case "mysql":
			p("lifeboat %s restore %s --mysql-host \"$DB_HOST\" --mysql-user root --mysql-password-env DB_PASSWORD\n", flags, shellQuote(s.Name))
			p("# or to an instant: the same with --to-time 'YYYY-MM-DD HH:MM:SS'\n")
		default:
			p("lifeboat %s restore %s --target \"$RESTORE_DIR/%s\"\n", flags, shellQuote(s.Name), s.Name)
		}
	}

	p("```\n")
	p("A copy instead of the repository: the same commands with the copy's location after --repo.\n")
}

// kopiaSteps are the restore without Lifeboat: kopia connects to the same
// storage with the same password; each source's newest backup is a kopia
// snapshot of lifeboat@lifeboat:/SOURCE tagged role:backup.
func (k *Kit) kopiaSteps(p func(string, ...any)) {
	p("Connect (kopia keeps its own settings under ~/.config/kopia):\n")
	p("```sh kopia-connect\n")
	p("export KOPIA_PASSWORD=\"$(cat password.txt)\"\n")
	p("%s\n", k.Repository.kopiaConnect())
	p("kopia snapshot list --all   # every source is lifeboat@lifeboat:/SOURCE\n")
	p("```\n")

	for _, s := range k.Sources {
		p("\nSource %s (%s): its newest backup into $RESTORE_DIR/%s\n", s.Name, s.Type, s.Name)
		p("```sh kopia-restore-%s\n", s.Name)

		src := shellQuote("lifeboat@lifeboat:/" + s.Name)
		dir := `"$RESTORE_DIR"/` + shellQuote(s.Name)

		if s.Type != "mysql" {
			p("SNAP=$(kopia snapshot list %s --tags role:backup --json | jq -r 'last | .id')\n", src)
			p("kopia restore \"$SNAP\" %s\n", dir)
			p("```\n")
			p(restoredAs(s.Type))

			continue
		}

		// The dump's schema is not a file of the snapshot but its label
		// tag:x-mysql; a physical backup (tag:x-physical) is no dump.
		p("LAST='map(select(.tags[\"tag:x-physical\"] == null)) | last'\n")
		p("kopia snapshot list %s --tags role:backup --tags type:full --json > snapshots.json\n", src)
		p("kopia restore \"$(jq -r \"$LAST | .id\" snapshots.json)\" %s\n", dir)
		p("jq -r \"$LAST | .tags[\\\"tag:x-mysql\\\"]\" snapshots.json > %s/_meta.json   # the dump's schema\n", dir)
		p("cd %s\n", dir)
		p("%s", loadDatabases)
		p("```\n")
		p("%s", databaseNotes)
	}
}

func restoredAs(kind string) string {
	if kind == "git" {
		return "The folder holds repo.bundle: git clone repo.bundle gives the repository back.\n"
	}

	return "The folder holds the files as they were (several paths: under their full paths).\n"
}

// loadDatabases loads a logical dump restored by kopia with the stock
// client, as Lifeboat does: the schema from _meta.json, the rows (INSERT
// statements, one a line) under the source's sql_mode without key checks,
// then views (several passes, so one built on another finds it), routines,
// triggers (after the rows, so they do not fire on them) and events
// (disabled, so a restored copy does not run them). Single quotes cannot
// appear in a jq program quoted for the shell, hence \u0027.
const loadDatabases = `SCHEMA='def q: "` + "`" + `" + gsub("` + "`" + `"; "` + "``" + `") + "` + "`" + `";
  .sql_mode as $m | .databases[$i] |
  "SET NAMES utf8mb4; SET foreign_key_checks = 0; SET unique_checks = 0;",
  "SET sql_mode = \u0027" + ($m | split(",") | map(select(. != "" and . != "NO_BACKSLASH_ESCAPES" and . != "NO_AUTO_VALUE_ON_ZERO")) + ["NO_AUTO_VALUE_ON_ZERO"] | join(",")) + "\u0027;",
  "CREATE DATABASE IF NOT EXISTS " + (.name | q) + " CHARACTER SET " + .charset + " COLLATE " + .collation + ";",
  "USE " + (.name | q) + ";", (.tables[] | .create + ";")'
VIEWS='.databases[$i] | "SET NAMES utf8mb4;", (.objects[]? | select(.kind == "view") |
  (if .charset then "SET character_set_client = \u0027" + .charset + "\u0027;" else empty end),
  (if .collation then "SET collation_connection = \u0027" + .collation + "\u0027;" else empty end),
  (.create | sub("^CREATE "; "CREATE OR REPLACE ")) + ";")'
OBJECTS='.databases[$i] | "SET NAMES utf8mb4;", "DELIMITER ;;", (.objects[]? | select(.kind != "view") |
  "SET sql_mode = \u0027" + .sql_mode + "\u0027;;",
  (if .charset then "SET character_set_client = \u0027" + .charset + "\u0027;;" else empty end),
  (if .collation then "SET collation_connection = \u0027" + .collation + "\u0027;;" else empty end),
  (if .kind == "event" then .create | sub(" ENABLE "; " DISABLE ") else .create end) + ";;"), "DELIMITER ;"'
N=$(jq '.databases | length' _meta.json)
for i in $(seq 0 $((N - 1))); do
  DB=$(jq -r --argjson i "$i" '.databases[$i].name' _meta.json)
  DIR=$(jq -r --argjson i "$i" '.databases[$i] | .dir // .name' _meta.json)
  { jq -r --argjson i "$i" "$SCHEMA" _meta.json; if [ -d "$DIR" ]; then cat "$DIR"/*.sql; fi; } | mariadb
  for pass in $(jq --argjson i "$i" '[.databases[$i].objects[]? | select(.kind == "view")] | range(length)' _meta.json); do
    jq -r --argjson i "$i" "$VIEWS" _meta.json | mariadb --force "$DB" 2>/dev/null || true
  done
  jq -r --argjson i "$i" "$VIEWS" _meta.json | mariadb "$DB"
  jq -r --argjson i "$i" "$OBJECTS" _meta.json | mariadb "$DB"
done
`

const databaseNotes = "Each database keeps its name (it must not exist yet, or its tables are added to). _meta.json (the snapshot's\n" +
	"label tag:x-mysql) also holds each table's row count (rows) and, with accounts: true, the server's accounts\n" +
	"(create those missing by hand).\n" +
	"Binlog segments (for an instant after the dump) are the snapshots of lifeboat@lifeboat:/SOURCE/binlog: restore\n" +
	"them the same way and replay with mariadb-binlog --start-position=POS (binlog_file and binlog_pos in _meta.json)\n" +
	"--stop-datetime='...' FILES | mariadb.\n"
