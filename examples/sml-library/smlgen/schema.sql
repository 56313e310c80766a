-- The Smart Library Booking System's database (sml_library): users book
-- rooms by the hour, join a waitlist when a slot is taken, and every change to
-- a booking is audited. Load: mariadb sml_library < schema.sql

CREATE TABLE users (
  id              INT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
  email           VARCHAR(190) NOT NULL UNIQUE,
  name            VARCHAR(100) NOT NULL,
  role            ENUM('student','staff','admin') NOT NULL DEFAULT 'student',
  active_bookings INT NOT NULL DEFAULT 0,
  preferences     JSON NULL,
  created_at      TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
  updated_at      TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3) ON UPDATE CURRENT_TIMESTAMP(3)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE rooms (
  id        SMALLINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
  name      VARCHAR(50) NOT NULL UNIQUE,
  floor     TINYINT NOT NULL,
  seats     SMALLINT UNSIGNED NOT NULL,
  features  SET('projector','whiteboard','quiet','accessible') NOT NULL DEFAULT '',
  photo     MEDIUMBLOB NULL,
  hourly_fee DECIMAL(8,2) NOT NULL DEFAULT 0.00
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE bookings (
  id         BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
  user_id    INT UNSIGNED NOT NULL,
  room_id    SMALLINT UNSIGNED NOT NULL,
  slot_date  DATE NOT NULL,
  slot_hour  TINYINT UNSIGNED NOT NULL,
  status     ENUM('active','cancelled') NOT NULL DEFAULT 'active',
  -- 1 while active, NULL once cancelled: the unique key below then allows
  -- many cancelled bookings of a slot but only one active one.
  active_marker TINYINT AS (IF(status = 'active', 1, NULL)) STORED,
  notes      TEXT NULL,
  created_at TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
  updated_at TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3) ON UPDATE CURRENT_TIMESTAMP(3),
  UNIQUE KEY one_active_per_slot (room_id, slot_date, slot_hour, active_marker),
  KEY by_user (user_id, status),
  CONSTRAINT fk_booking_user FOREIGN KEY (user_id) REFERENCES users (id),
  CONSTRAINT fk_booking_room FOREIGN KEY (room_id) REFERENCES rooms (id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE waitlist (
  id         BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
  user_id    INT UNSIGNED NOT NULL,
  room_id    SMALLINT UNSIGNED NOT NULL,
  slot_date  DATE NOT NULL,
  slot_hour  TINYINT UNSIGNED NOT NULL,
  created_at TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
  KEY by_slot (room_id, slot_date, slot_hour),
  CONSTRAINT fk_wait_user FOREIGN KEY (user_id) REFERENCES users (id),
  CONSTRAINT fk_wait_room FOREIGN KEY (room_id) REFERENCES rooms (id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE booking_audit (
  id         BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
  booking_id BIGINT UNSIGNED NOT NULL,
  old_status VARCHAR(10) NULL,
  new_status VARCHAR(10) NOT NULL,
  changed_at TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
  changed_by VARCHAR(100) NOT NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE VIEW room_utilisation AS
  SELECT r.id AS room_id, r.name, COUNT(b.id) AS active_bookings
  FROM rooms r LEFT JOIN bookings b ON b.room_id = r.id AND b.status = 'active'
  GROUP BY r.id, r.name;

DELIMITER ;;
CREATE TRIGGER bookings_audit AFTER UPDATE ON bookings FOR EACH ROW
BEGIN
  IF NOT (OLD.status <=> NEW.status) THEN
    INSERT INTO booking_audit (booking_id, old_status, new_status, changed_by)
    VALUES (NEW.id, OLD.status, NEW.status, CURRENT_USER());
  END IF;
END ;;

CREATE PROCEDURE cancel_booking(IN p_booking BIGINT UNSIGNED)
BEGIN
  DECLARE v_user INT UNSIGNED;
  START TRANSACTION;
  SELECT user_id INTO v_user FROM bookings WHERE id = p_booking AND status = 'active' FOR UPDATE;
  IF v_user IS NOT NULL THEN
    UPDATE bookings SET status = 'cancelled' WHERE id = p_booking;
    UPDATE users SET active_bookings = active_bookings - 1 WHERE id = v_user;
  END IF;
  COMMIT;
END ;;
DELIMITER ;
