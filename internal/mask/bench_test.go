package mask

import (
	"strconv"
	"testing"
)

// BenchmarkMaskRow masks the 6 columns bench/mysql's masked restore rules
// (email, two names, a note, a 120-character hash and a pad) on one
// goroutine: values/s is the masking throughput of one core.
func BenchmarkMaskRow(b *testing.B) {
	m, err := New([]byte("bench-masking-key-0123456789abcdef"))
	if err != nil {
		b.Fatal(err)
	}

	fields := []*Field{}

	for _, c := range []struct {
		spec Spec
		col  Column
	}{
		{Spec{Kind: "email"}, Column{Name: "b.users.email", Type: "varchar", Length: 190, Unique: true}},
		{Spec{Kind: "name"}, Column{Name: "b.users.name", Type: "varchar", Length: 100}},
		{Spec{Kind: "text"}, Column{Name: "b.bookings.notes", Type: "text"}},
		{Spec{Kind: "name"}, Column{Name: "b.booking_audit.changed_by", Type: "varchar", Length: 100}},
		{Spec{Kind: "hash", Format: true}, Column{Name: "b.sbtest1.c", Type: "char", Length: 120}},
		{Spec{Kind: "text"}, Column{Name: "b.sbtest1.pad", Type: "char", Length: 60}},
	} {
		f, err := m.Field(c.spec, c.col)
		if err != nil {
			b.Fatal(err)
		}

		fields = append(fields, f)
	}

	pad := []byte("68487932199-96439406143-93774651418-41631865787-96406072701-")
	c := append(append([]byte{}, pad...), pad...)

	b.ResetTimer()

	for i := 0; i < b.N; i++ {
		id := strconv.Itoa(i)
		vals := [][]byte{[]byte("user" + id + "@library.example.org"), []byte("Reader " + id), []byte("thesis defence rehearsal, bring adapter"), []byte("root@localhost"), c, pad}

		for j, f := range fields {
			if _, _, err := f.Mask(vals[j]); err != nil {
				b.Fatal(err)
			}
		}
	}

	b.ReportMetric(float64(b.N*len(fields))/b.Elapsed().Seconds(), "values/s")
}
