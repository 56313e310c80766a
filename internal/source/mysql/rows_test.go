package mysql

import "testing"

func TestAppendEscaped(t *testing.T) {
	for in, want := range map[string]string{
		"":                 "",
		"plain text":       "plain text",
		"it's":             `it\'s`,
		"a\\b":             `a\\b`,
		"nul\x00end":       `nul\0end`,
		"line1\nline2\r\n": `line1\nline2\r\n`,
		"ctrl-z\x1a":       `ctrl-z\Z`,
		"\"double\" stays": `"double" stays`,
		"🚀 ünïcode\x00'":   `🚀 ünïcode\0\'`,
	} {
		if got := string(appendEscaped(nil, []byte(in))); got != want {
			t.Errorf("%q: got %q, want %q", in, got, want)
		}
	}
}

func BenchmarkAppendEscaped(b *testing.B) {
	v := []byte("a fairly ordinary line of text with one 'quote' in it, as rows usually are")
	buf := make([]byte, 0, 256)

	b.SetBytes(int64(len(v)))

	for b.Loop() {
		buf = appendEscaped(buf[:0], v)
	}
}

func TestImportAllowed(t *testing.T) {
	for stmt, want := range map[string]string{
		"INSERT INTO `t` VALUES (1)":                                       "run",
		"/*!40101 SET @OLD_CHARACTER_SET_CLIENT=@@CHARACTER_SET_CLIENT */": "run",
		"/*!50003 CREATE*/ /*!50017 DEFINER=`root`@`localhost`*/ /*!50003 TRIGGER `x` AFTER INSERT ON `t` FOR EACH ROW SET @a = 1 */": "run",
		"/*!40000 ALTER TABLE `t` DISABLE KEYS */":                                 "run",
		"LOCK TABLES `t` WRITE":                                                    "run",
		"/*!40000 DROP DATABASE IF EXISTS `prod`*/":                                "skip",
		"SET @@GLOBAL.GTID_PURGED=/*!80000 '+'*/ 'x:1-5'":                          "skip",
		"CHANGE MASTER TO MASTER_LOG_FILE='mysql-bin.000001'":                      "refuse",
		"SET GLOBAL read_only = 1":                                                 "refuse",
		"CREATE USER 'x'@'%' IDENTIFIED BY 'y'":                                    "refuse",
		"GRANT ALL ON *.* TO 'x'@'%'":                                              "refuse",
		"DROP USER 'app'@'localhost'":                                              "refuse",
		"/*M!100616 SET @OLD_NOTE_VERBOSITY=@@NOTE_VERBOSITY, NOTE_VERBOSITY=0 */": "run",
	} {
		skip, err := importAllowed(stmt)

		got := "run"
		if err != nil {
			got = "refuse"
		} else if skip {
			got = "skip"
		}

		if got != want {
			t.Errorf("%s: %s, want %s (%v)", stmt, got, want, err)
		}
	}
}
