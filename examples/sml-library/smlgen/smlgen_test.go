package smlgen

import (
	"context"
	"testing"
	"time"

	"lifeboat/internal/testenv"
)

func TestGenerateAndWorkloadKeepInvariants(t *testing.T) {
	ctx := context.Background()
	srv := testenv.StartMariaDB(t)
	db := srv.DB(t, "")

	if err := CreateSchema(ctx, db, "sml_library"); err != nil {
		t.Fatal(err)
	}

	sc := ScaleFor(10000)
	if err := Generate(ctx, db, "sml_library", sc); err != nil {
		t.Fatal(err)
	}

	var n int
	db.QueryRow("SELECT COUNT(*) FROM sml_library.bookings").Scan(&n)

	if n != 10000 {
		t.Fatalf("generated %d bookings", n)
	}

	if err := CheckInvariants(ctx, db, "sml_library"); err != nil {
		t.Fatal(err)
	}

	var cancelledBefore int
	db.QueryRow("SELECT COUNT(*) FROM sml_library.bookings WHERE status = 'cancelled'").Scan(&cancelledBefore)

	wctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()

	st, err := Workload(wctx, db, "sml_library", 4, sc)
	if err != nil {
		t.Fatal(err)
	}

	if st.Booked.Load() == 0 || st.Cancelled.Load() == 0 {
		t.Fatalf("workload did nothing: %d booked, %d cancelled", st.Booked.Load(), st.Cancelled.Load())
	}

	if err := CheckInvariants(ctx, db, "sml_library"); err != nil {
		t.Fatal(err)
	}

	// Every booking that went from active to cancelled was audited once (a
	// cancel call that lost the race to another worker changes nothing).
	var audits, cancelledAfter int
	db.QueryRow("SELECT COUNT(*) FROM sml_library.booking_audit").Scan(&audits)
	db.QueryRow("SELECT COUNT(*) FROM sml_library.bookings WHERE status = 'cancelled'").Scan(&cancelledAfter)

	if audits == 0 || audits != cancelledAfter-cancelledBefore {
		t.Fatalf("the audit trigger logged %d changes for %d cancellations", audits, cancelledAfter-cancelledBefore)
	}

	t.Logf("workload: %d booked, %d cancelled, %d waitlisted in 2s", st.Booked.Load(), st.Cancelled.Load(), st.Waitlisted.Load())
}
