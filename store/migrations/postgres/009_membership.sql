-- Who is in which group, as the membership events said: one row per (group, user), the effect
-- of the newest event about it in Okta's published order (uuid breaks ties), like
-- hookd_holding. A user holds what their groups hold: the holders of a role through a group
-- are this table joined to the group's rows of hookd_holding, never copied, so that a group
-- losing a role, or a user leaving it, changes one row.
CREATE TABLE hookd_membership (
    group_id    TEXT NOT NULL,
    user_id     TEXT NOT NULL,
    group_name  TEXT NOT NULL,
    user_name   TEXT NOT NULL,
    member      BOOLEAN NOT NULL,
    published   TIMESTAMPTZ NOT NULL,
    uuid        TEXT NOT NULL,
    actor       TEXT NOT NULL,
    known_by    TEXT NOT NULL,
    PRIMARY KEY (group_id, user_id)
);
CREATE INDEX hookd_membership_user ON hookd_membership (user_id);
