-- A list's name and consent text in languages other than its default: lists.name and
-- lists.consent_text are written in the list's default_locale, a row here is the same wording in
-- another language the service speaks. The list's one consent_text_version covers every
-- translation. A table rather than a jsonb column on lists: each text gets the column checks the
-- list's own have, and choosing a reader's wording is a join on the primary key (list_wording).
CREATE TABLE list_translations (
    list_id      integer NOT NULL REFERENCES lists (id) ON DELETE CASCADE,
    language     text NOT NULL CHECK (language ~ '^[a-z]{2,3}$'),
    name         text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    consent_text text NOT NULL CHECK (length(consent_text) BETWEEN 1 AND 2000),
    PRIMARY KEY (list_id, language)
);

-- The one rule for which wording a reader gets: the list's translation into the reader's
-- language, else its default text; and the language of what was chosen (for the default text,
-- the language of the list's default_locale). Signups record that language as evidence; forms,
-- pages and mails show the text. A single-SELECT SQL function, so the planner inlines it.
CREATE FUNCTION list_wording(of_list integer, in_language text)
RETURNS TABLE (name text, consent_text text, language text)
LANGUAGE sql STABLE AS $$
    SELECT coalesce(t.name, l.name), coalesce(t.consent_text, l.consent_text),
           coalesce(t.language, lower(split_part(l.default_locale, '-', 1)))
    FROM lists l
    LEFT JOIN list_translations t ON t.list_id = l.id AND t.language = in_language
    WHERE l.id = of_list
$$;
