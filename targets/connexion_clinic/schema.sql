-- Schema of the veterinary clinic target (connexion_clinic), in its own database: nothing here is
-- shared with the shop apps' common/schema.sql. Every object id is a UUID; the seed uses fixed ones
-- (targets/README.md) so tests may rely on them.

CREATE TABLE users (
    id            uuid         PRIMARY KEY DEFAULT gen_random_uuid(),
    username      varchar(32)  NOT NULL UNIQUE,
    email         varchar(254) NOT NULL,
    full_name     varchar(100) NOT NULL DEFAULT '',
    password_hash text         NOT NULL,
    role          varchar(16)  NOT NULL DEFAULT 'customer' CHECK (role IN ('customer', 'admin')),
    created_at    timestamptz  NOT NULL DEFAULT now()
);

-- The public catalogue: clinics and the vets who work there. Shared with every caller by design.
CREATE TABLE clinics (
    id            uuid         PRIMARY KEY DEFAULT gen_random_uuid(),
    name          varchar(120) NOT NULL,
    street        varchar(200) NOT NULL,
    city          varchar(100) NOT NULL,
    postcode      varchar(16)  NOT NULL,
    phone         varchar(32)  NOT NULL,
    opening_hours varchar(120) NOT NULL
);

CREATE TABLE vets (
    id         uuid         PRIMARY KEY DEFAULT gen_random_uuid(),
    clinic_id  uuid         NOT NULL REFERENCES clinics (id),
    full_name  varchar(100) NOT NULL,
    specialty  varchar(100) NOT NULL
);

-- Private to their owner.
CREATE TABLE pets (
    id         uuid         PRIMARY KEY DEFAULT gen_random_uuid(),
    owner_id   uuid         NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name       varchar(60)  NOT NULL,
    species    varchar(30)  NOT NULL,
    breed      varchar(60)  NOT NULL DEFAULT '',
    birth_date date,
    microchip  varchar(20)  NOT NULL DEFAULT '',
    created_at timestamptz  NOT NULL DEFAULT now()
);
CREATE INDEX pets_owner_id ON pets (owner_id);

CREATE TABLE appointments (
    id         uuid         PRIMARY KEY DEFAULT gen_random_uuid(),
    pet_id     uuid         NOT NULL REFERENCES pets (id) ON DELETE CASCADE,
    vet_id     uuid         NOT NULL REFERENCES vets (id),
    starts_at  timestamptz  NOT NULL,
    reason     varchar(200) NOT NULL,
    status     varchar(16)  NOT NULL DEFAULT 'booked' CHECK (status IN ('booked', 'done', 'cancelled')),
    created_at timestamptz  NOT NULL DEFAULT now()
);
CREATE INDEX appointments_pet_id ON appointments (pet_id);

-- An owner's own notes (medication reminders, questions for the vet), optionally about one pet.
CREATE TABLE notes (
    id         uuid         PRIMARY KEY DEFAULT gen_random_uuid(),
    owner_id   uuid         NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    pet_id     uuid         REFERENCES pets (id) ON DELETE SET NULL,
    title      varchar(200) NOT NULL,
    body       text         NOT NULL DEFAULT '',
    created_at timestamptz  NOT NULL DEFAULT now()
);
CREATE INDEX notes_owner_id ON notes (owner_id);

-- Reminders (vaccination boosters, worming) on an owner's account: reception sets them up on an
-- owner's behalf, owners for themselves. `created_by` is who asked, `owner_id` whose list shows it.
CREATE TABLE reminders (
    id         uuid         PRIMARY KEY DEFAULT gen_random_uuid(),
    owner_id   uuid         NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_by uuid         NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    message    varchar(300) NOT NULL,
    due_on     date         NOT NULL,
    created_at timestamptz  NOT NULL DEFAULT now()
);
CREATE INDEX reminders_owner_id ON reminders (owner_id);

-- Notices (closures, vaccine campaigns) posted by staff: every signed-in account reads the same
-- list, staff included. Shared by design.
CREATE TABLE notices (
    id         uuid         PRIMARY KEY DEFAULT gen_random_uuid(),
    title      varchar(200) NOT NULL,
    body       text         NOT NULL,
    posted_by  uuid         NOT NULL REFERENCES users (id),
    posted_at  timestamptz  NOT NULL DEFAULT now()
);

-- Failed sign-ins, for the limiter: one row per failure, keyed by `user:<name as sent>`.
CREATE TABLE auth_failures (
    id        bigserial    PRIMARY KEY,
    key       varchar(300) NOT NULL,
    failed_at timestamptz  NOT NULL DEFAULT now()
);
CREATE INDEX auth_failures_key ON auth_failures (key, failed_at);
