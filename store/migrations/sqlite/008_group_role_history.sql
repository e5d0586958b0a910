-- Every grant and revoke of a group's watched role, not only the newest: a membership is a
-- role change when its group held a role at that moment, and the newest row of
-- hookd_holding cannot say what the group held before its last change.
CREATE TABLE hookd_group_role (
    group_id   TEXT NOT NULL,
    role_key   TEXT NOT NULL,
    role_name  TEXT NOT NULL,
    category   TEXT NOT NULL,
    held       INTEGER NOT NULL,
    published  TEXT NOT NULL,
    uuid       TEXT NOT NULL,
    known_by   TEXT NOT NULL,
    PRIMARY KEY (group_id, role_key, published, uuid)
);
INSERT INTO hookd_group_role (group_id, role_key, role_name, category, held, published, uuid, known_by)
    SELECT subject_id, role_key, role_name, category, held, published, uuid, known_by FROM hookd_holding WHERE subject_kind = 'group';
