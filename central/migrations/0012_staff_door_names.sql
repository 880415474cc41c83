-- What people call each door, from the roster (`door_names`), for the staff app.
CREATE TABLE staff_door_names (
    door text PRIMARY KEY,
    name text NOT NULL
);
