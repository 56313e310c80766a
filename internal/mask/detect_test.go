package mask

import "testing"

func TestByName(t *testing.T) {
	for col, want := range map[string]string{
		"email": "email", "contactEmail": "email", "phone": "phone", "mobile_no": "phone", "first_name": "first_name", "lastName": "last_name",
		"name": "name", "address2": "address", "postal_code": "address", "birth_date": "{date_shift: 30d}", "last_ip": "hash", "iban": "hash", "card_number": "hash", "note": "text",
	} {
		typ := "varchar"
		if col == "birth_date" {
			typ = "date"
		}

		f, ok := ByName(col, typ)
		if !ok || f.Rule != want {
			t.Errorf("%s: %+v %v, want %s", col, f, ok, want)
		}
	}

	for col, typ := range map[string]string{"address_id": "smallint", "customer_id": "int", "title": "varchar", "last_update": "timestamp", "birth_date": "varchar", "name": "int", "rating": "enum"} {
		if f, ok := ByName(col, typ); ok {
			t.Errorf("%s %s flagged: %+v", col, typ, f)
		}
	}
}

func TestByValues(t *testing.T) {
	for want, vals := range map[string][]string{
		"email":                  {"a@b.example", "MARY.SMITH@sakilacustomer.org", "", "x"},
		"phone":                  {"+44 20 7946 0958", "(555) 010-0199", "555 0100 12"},
		"{hash: {format: true}}": {"4111 1111 1111 1111", "5500-0000-0000-0004", "4012888888881881"},
		"hash":                   {"192.168.1.10", "2001:db8::1", "10.0.0.1"},
	} {
		f, ok := ByValues(vals)
		if !ok || f.Rule != want {
			t.Errorf("%v: %+v %v, want %s", vals, f, ok, want)
		}
	}

	// Numbers that fail the Luhn check, prose and postal codes are not flagged.
	for _, vals := range [][]string{{"4111 1111 1111 1112", "1234-5678-9012-3456"}, {"A sunny day", "Lorem ipsum"}, {"12345", "90210"}, {"2024-01-05", "2024-02-11 10:00:00"}, {}} {
		if f, ok := ByValues(vals); ok {
			t.Errorf("%v flagged: %+v", vals, f)
		}
	}

	if Luhn("4111111111111112") || !Luhn("4111111111111111") || Luhn("4111") {
		t.Error("Luhn check wrong")
	}
}
