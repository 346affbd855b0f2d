namespace Subscriptions.Api.Admin;

/// <summary>
/// The export's statement, the layout of its binary rows, and how a timestamp is written.
/// </summary>
public static class ExportQuery
{
    // COPY takes no bind parameters. The filters go in as bound parameters of set_config, into
    // settings that live as long as the export's transaction, and the COPY reads them back with
    // current_setting: no value from the request ever becomes SQL text.
    public const string SetFilters = """
        SELECT set_config('export.list', coalesce(@list, ''), true), set_config('export.status', coalesce(@status, ''), true),
               set_config('export.since', coalesce(@since, ''), true)
        """;

    // One statement, so one snapshot. Binary, so PostgreSQL formats no timestamp. Held ones only
    // when asked for. The filters are read once (the materialized f), not per row. The text stays
    // under PostgreSQL's track_activity_query_size (1,024 bytes), so pg_stat_activity shows it
    // whole (ExportStreamingTests looks for it there).
    public const string Copy = """
        COPY (WITH f AS MATERIALIZED (SELECT nullif(current_setting('export.list'), '') AS list,
          nullif(current_setting('export.status'), '') AS status, nullif(current_setting('export.since'), '')::timestamptz AS since)
        SELECT sub.id, s.email_as_typed, s.name, l.slug, sub.status, sub.created_at, sub.confirmed_at, sub.unsubscribed_at,
               sub.consent_at, host(sub.consent_ip), sub.consent_user_agent, sub.consent_source, sub.consent_text_version,
               sub.consent_text_language, sub.utm_source, sub.utm_medium, sub.utm_campaign, s.locale, sup.reason
        FROM subscriptions sub
        JOIN subscribers s ON s.id = sub.subscriber_id
        JOIN lists l ON l.id = sub.list_id
        LEFT JOIN suppressions sup ON sup.email = s.email AND sup.lifted_at IS NULL
        CROSS JOIN f
        WHERE (f.list IS NULL OR l.slug = f.list) AND (sub.status = f.status OR (f.status IS NULL AND sub.status <> 'held'))
          AND (f.since IS NULL OR sub.updated_at >= f.since)
        ORDER BY sub.id) TO STDOUT (FORMAT binary)
        """;

    // The columns of a row, in the statement's order.
    public const int Id = 0, Email = 1, Name = 2, List = 3, Status = 4, SignedUpAt = 5, ConfirmedAt = 6, UnsubscribedAt = 7,
        ConsentAt = 8, ConsentIp = 9, ConsentUserAgent = 10, ConsentSource = 11, ConsentTextVersion = 12,
        ConsentTextLanguage = 13, UtmSource = 14, UtmMedium = 15, UtmCampaign = 16, Locale = 17, SuppressedReason = 18;

    public const int Columns = 19;

    /// <summary>The names of the exported fields, in order (the CSV header, the NDJSON keys).</summary>
    public static readonly string[] Header =
    [
        "email", "name", "list", "status", "signed_up_at", "confirmed_at", "unsubscribed_at", "consent_at", "consent_ip",
        "consent_user_agent", "consent_source", "consent_text_version", "consent_text_language",
        "utm_source", "utm_medium", "utm_campaign",
        "locale", "unsubscribe_url",
        "suppressed", "suppressed_reason", "manage_url",
    ];

    /// <summary>The longest text <see cref="Timestamp"/> writes.</summary>
    public const int TimestampLength = 27;

    static readonly long PostgresEpochTicks = new DateTime(2000, 1, 1, 0, 0, 0, DateTimeKind.Utc).Ticks;

    /// <summary>
    /// Writes a binary timestamptz (microseconds since 2000-01-01 UTC) as yyyy-MM-ddTHH:mm:ss.ffffffZ,
    /// digit by digit: DateTime's formatter parses its pattern on every call, four times a row.
    /// </summary>
    public static int Timestamp(long microseconds, Span<byte> destination)
    {
        if (microseconds is long.MaxValue or long.MinValue)
        {
            var infinity = microseconds == long.MaxValue ? "infinity"u8 : "-infinity"u8;
            infinity.CopyTo(destination);
            return infinity.Length;
        }

        var ticks = PostgresEpochTicks + microseconds * TimeSpan.TicksPerMicrosecond;
        if (ticks < DateTime.MinValue.Ticks || ticks > DateTime.MaxValue.Ticks)
        {
            throw new InvalidDataException("A timestamp outside the years 1 to 9999.");
        }

        var time = new DateTime(ticks, DateTimeKind.Utc);
        var (year, month, day) = time;
        Digits(destination, year, 4);
        destination[4] = (byte)'-';
        Digits(destination[5..], month, 2);
        destination[7] = (byte)'-';
        Digits(destination[8..], day, 2);
        destination[10] = (byte)'T';
        Digits(destination[11..], time.Hour, 2);
        destination[13] = (byte)':';
        Digits(destination[14..], time.Minute, 2);
        destination[16] = (byte)':';
        Digits(destination[17..], time.Second, 2);
        destination[19] = (byte)'.';
        Digits(destination[20..], (int)(ticks % TimeSpan.TicksPerSecond / TimeSpan.TicksPerMicrosecond), 6);
        destination[26] = (byte)'Z';
        return TimestampLength;
    }

    static void Digits(Span<byte> destination, int value, int count)
    {
        for (var i = count - 1; i >= 0; i--)
        {
            destination[i] = (byte)('0' + value % 10);
            value /= 10;
        }
    }
}
