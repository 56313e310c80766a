package config

// Server is the database server a source of type mysql reads, nil for a
// source of any other type: the --mysql-* flags and the password checks
// apply to it. It is the configuration schema's to say which settings a
// type has.
func (s *Source) Server() *MySQL {
	if s.Type != KindMySQL {
		return nil
	}

	return &s.MySQL
}
