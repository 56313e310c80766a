package mysql

import "testing"

// TestFlattenReadsAsTheServer: executable comments open, other comments go,
// quoted text stays, so the check of a trigger's or function's names sees
// what the server would run.
func TestFlattenReadsAsTheServer(t *testing.T) {
	for in, want := range map[string]string{
		"/*!50003 CREATE*/ /*!50017 DEFINER=`root`@`localhost`*/ /*!50003 TRIGGER x AFTER INSERT ON t FOR EACH ROW SET @a = 1 */": "  CREATE    DEFINER=`root`@`localhost`    TRIGGER x AFTER INSERT ON t FOR EACH ROW SET @a = 1  ",
		"CREATE TRIGGER /* hidden */ a.b":               "CREATE TRIGGER   a.b",
		"SET @a = '/* not a comment */ -- nor this'":    "SET @a = '/* not a comment */ -- nor this'",
		"SET @a = 'it''s', @b = \"x\\\"y\" # gone\nSET": "SET @a = 'it''s', @b = \"x\\\"y\" \nSET",
		"CREATE /*M!100101 OR REPLACE */ FUNCTION f()":  "CREATE   OR REPLACE   FUNCTION f()",
		"SELECT `a``b` -- gone":                         "SELECT `a``b` ",
	} {
		if got := flatten(in); got != want {
			t.Errorf("flatten(%q)\n got %q\nwant %q", in, got, want)
		}
	}

	for stmt, ok := range map[string]bool{
		"CREATE DEFINER=`root`@`localhost` TRIGGER x AFTER INSERT ON t FOR EACH ROW SET @a = 1": true,
		"CREATE OR REPLACE TRIGGER `x` BEFORE UPDATE ON `t` FOR EACH ROW SET @a = 1":            true,
		"CREATE DEFINER='root'@'%' FUNCTION `f`(a INT) RETURNS INT DETERMINISTIC RETURN a":      true,
		"CREATE AGGREGATE FUNCTION IF NOT EXISTS f() RETURNS INT BEGIN RETURN 1; END":           true,
		"CREATE TRIGGER d.x AFTER INSERT ON t FOR EACH ROW SET @a = 1":                          false,
		"CREATE TRIGGER x AFTER INSERT ON d.t FOR EACH ROW SET @a = 1":                          false,
		"CREATE TRIGGER x AFTER INSERT ON `d`.`t` FOR EACH ROW SET @a = 1":                      false,
		"CREATE FUNCTION d.f() RETURNS INT RETURN 1":                                            false,
		"CREATE TRIGGER   d   . x AFTER INSERT ON t FOR EACH ROW SET @a = 1":                    false,
		"CREATE PROCEDURE p() SELECT 1":                                                         false,
		"DROP TABLE t; CREATE TRIGGER x AFTER INSERT ON t FOR EACH ROW SET @a = 1":              false,
		"CREATE DEFINER=`a`@`b` TRIGGER x AFTER INSERT ON t FOR EACH ROW UPDATE d.t SET a = 1":  true,
	} {
		if got := adminDDL.MatchString(flatten(stmt)); got != ok {
			t.Errorf("%q: taken %v, want %v", stmt, got, ok)
		}
	}

	for stmt, ok := range map[string]bool{
		"DROP TRIGGER IF EXISTS `tr;\n``'\"*/ /* -- ;;`": true,
		"DROP FUNCTION f":                true,
		"DROP TRIGGER d.x":               false,
		"DROP TRIGGER `d`.`x`":           false,
		"DROP TRIGGER x; DROP TABLE d.t": false,
		"DROP PROCEDURE p":               false,
	} {
		if got := adminDrop.MatchString(flatten(stmt)); got != ok {
			t.Errorf("%q: taken %v, want %v", stmt, got, ok)
		}
	}
}
