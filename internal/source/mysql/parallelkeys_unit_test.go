package mysql

import "testing"

// TestWriteSetConflicts: the keys a replay orders transactions by. A
// parent's delete and a child pointing at it conflict; rows of unrelated
// parents do not; a unique value in another letter case conflicts; a table
// without a primary key conflicts as a whole; a key a transaction touches
// twice does not make it wait for itself.
func TestWriteSetConflicts(t *testing.T) {
	ws := writeSchema{
		"d.parent": {columns: 2, keys: []keyIndex{{name: "u\x00d.parent\x00PRIMARY", cols: []int{0}}, {name: "f\x00d.parent\x00fk@d.child", cols: []int{0}}}},
		"d.child":  {columns: 3, keys: []keyIndex{{name: "u\x00d.child\x00PRIMARY", cols: []int{0}}, {name: "f\x00d.parent\x00fk@d.child", cols: []int{1}}}},
		"d.uq":     {columns: 2, keys: []keyIndex{{name: "u\x00d.uq\x00PRIMARY", cols: []int{0}}, {name: "u\x00d.uq\x00code", cols: []int{1}}}},
		"d.nopk":   {columns: 2, whole: true},
	}

	tr := newTracker()
	seq := 0
	txn := func(changes ...rowChange) *ptxn {
		t := &ptxn{seq: seq, done: make(chan struct{})}
		seq++
		tr.depend(t, ws.writeSetOf(changes))

		return t
	}

	delParent := txn(rowChange{db: "d", table: "parent", columns: 2, rows: [][]any{{int32(7), "seven"}}})
	otherChild := txn(rowChange{db: "d", table: "child", columns: 3, rows: [][]any{{int32(1), int32(8), int32(0)}}})
	child := txn(rowChange{db: "d", table: "child", columns: 3, rows: [][]any{{int32(2), int32(7), int32(0)}, {int32(2), int32(7), int32(1)}}})

	if otherChild.dep != nil {
		t.Errorf("a child of another parent waits for transaction %d", otherChild.dep.seq)
	}

	if child.dep != delParent {
		t.Fatalf("a child of the deleted parent does not wait for it: dep %v", child.dep)
	}

	if child.dep == child {
		t.Fatal("a transaction waits for itself")
	}

	lower := txn(rowChange{db: "d", table: "uq", columns: 2, rows: [][]any{{int32(1), "c5 "}}})
	upper := txn(rowChange{db: "d", table: "uq", columns: 2, rows: [][]any{{int32(2), "C5"}}})

	if upper.dep != lower {
		t.Errorf("unique values differing in case and trailing spaces do not conflict")
	}

	n1 := txn(rowChange{db: "d", table: "nopk", columns: 2, rows: [][]any{{int32(1), "a"}}})
	n2 := txn(rowChange{db: "d", table: "nopk", columns: 2, rows: [][]any{{int32(2), "b"}}})

	if n2.dep != n1 {
		t.Errorf("two changes to a table without a primary key do not conflict")
	}

	minimal := txn(rowChange{db: "d", table: "uq", columns: 2, rows: [][]any{{int32(3), nil}}, skipped: [][]int{{1}}})
	if minimal.dep != upper {
		t.Errorf("a row image without its unique column does not conflict with the table's earlier changes")
	}
}
