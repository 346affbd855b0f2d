using System.ComponentModel.DataAnnotations;
using Dapper;
using Npgsql;
using Subscriptions.Api.Localization;

namespace Subscriptions.Api.Admin;

/// <summary>A list's name and consent text in one more language than its default.</summary>
public sealed record ListTranslation
{
    [Required]
    public string Name { get; init; } = "";

    [Required]
    public string ConsentText { get; init; } = "";
}

/// <summary>
/// A list's translations as the list endpoints read and replace them (table list_translations,
/// keyed by list and language). Which one a reader sees is the database's list_wording.
/// </summary>
public static class ListTranslations
{
    public static readonly IReadOnlyDictionary<string, ListTranslation> None = new Dictionary<string, ListTranslation>();

    sealed record Row(string Slug, string Language, string Name, string ConsentText);

    /// <summary>As stored: languages in lower case, names trimmed as the list's own name is, in language order.</summary>
    public static IReadOnlyDictionary<string, ListTranslation> Normalized(Dictionary<string, ListTranslation?>? translations) =>
        (translations ?? []).OrderBy(t => t.Key, StringComparer.OrdinalIgnoreCase).ToDictionary(
            t => t.Key.ToLowerInvariant(),
            t => new ListTranslation { Name = t.Value!.Name.Trim(), ConsentText = t.Value.ConsentText });

    /// <summary>The translations of one list, or of every list (<paramref name="slug"/> null), by slug.</summary>
    public static async Task<Dictionary<string, IReadOnlyDictionary<string, ListTranslation>>> ReadAsync(
        NpgsqlConnection connection, string? slug, CancellationToken cancellationToken, NpgsqlTransaction? transaction = null)
    {
        var rows = await connection.QueryAsync<Row>(new CommandDefinition("""
            SELECT l.slug AS Slug, t.language AS Language, t.name AS Name, t.consent_text AS ConsentText
            FROM list_translations t JOIN lists l ON l.id = t.list_id
            WHERE @slug::text IS NULL OR l.slug = @slug
            ORDER BY l.slug, t.language
            """, new { slug }, transaction, cancellationToken: cancellationToken));
        return rows.GroupBy(r => r.Slug).ToDictionary(
            list => list.Key,
            IReadOnlyDictionary<string, ListTranslation> (list) => list.ToDictionary(
                r => r.Language, r => new ListTranslation { Name = r.Name, ConsentText = r.ConsentText }));
    }

    /// <summary>Makes <paramref name="translations"/> the list's only ones, in the caller's transaction.</summary>
    public static Task ReplaceAsync(
        NpgsqlConnection connection, NpgsqlTransaction transaction, string slug, IReadOnlyDictionary<string, ListTranslation> translations,
        CancellationToken cancellationToken) =>
        connection.ExecuteAsync(new CommandDefinition("""
            DELETE FROM list_translations WHERE list_id = (SELECT id FROM lists WHERE slug = @slug);
            INSERT INTO list_translations (list_id, language, name, consent_text)
            SELECT l.id, t.language, t.name, t.consent_text
            FROM lists l, unnest(@languages, @names, @consentTexts) AS t (language, name, consent_text)
            WHERE l.slug = @slug;
            """, new
        {
            slug,
            languages = translations.Keys.ToArray(),
            names = translations.Values.Select(t => t.Name).ToArray(),
            consentTexts = translations.Values.Select(t => t.ConsentText).ToArray(),
        }, transaction, cancellationToken: cancellationToken));

    /// <summary>A list's consent text in each language it has one in: its own, and its translations'.</summary>
    public static Dictionary<string, string> ConsentTexts(
        string defaultLocale, string consentText, IReadOnlyDictionary<string, ListTranslation> translations)
    {
        var texts = translations.ToDictionary(t => t.Key, t => t.Value.ConsentText);
        texts[Languages.OfListDefault(defaultLocale)] = consentText;
        return texts;
    }

    /// <summary>
    /// Languages whose consent text a replacement would change or remove. Evidence names a version
    /// and a language, so under one version a language's text stays what it was. A language may be
    /// added: no signup can have named it under this version (its readers got the default text).
    /// </summary>
    public static List<string> ConsentTextsChanged(IReadOnlyDictionary<string, string> current, IReadOnlyDictionary<string, string> replacement) =>
        [.. current.Where(c => !replacement.TryGetValue(c.Key, out var text) || text != c.Value).Select(c => c.Key).Order(StringComparer.Ordinal)];
}
