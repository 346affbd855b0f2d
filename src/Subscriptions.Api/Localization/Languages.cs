using System.Collections.Frozen;
using System.Globalization;
using Microsoft.Net.Http.Headers;

namespace Subscriptions.Api.Localization;

/// <summary>
/// The languages the service speaks, and the one rule that picks a reader's: the signup's
/// <c>locale</c>, else the browser's Accept-Language preference, else the list's default, else
/// English. Pages, mails and answers all ask here.
/// </summary>
public static class Languages
{
    public const string Default = "en";

    public static readonly FrozenSet<string> Supported =
        new[] { "en", "de", "fr", "es", "it", "nl", "pt", "pl" }.ToFrozenSet(StringComparer.OrdinalIgnoreCase);

    public static string Choose(string? locale, IEnumerable<StringWithQualityHeaderValue> acceptLanguage, string? listDefault)
    {
        var candidates = new[] { locale }
            .Concat(acceptLanguage.Where(l => l.Quality is not 0).OrderByDescending(l => l.Quality ?? 1).Select(l => l.Value.Value))
            .Append(listDefault);
        foreach (var candidate in candidates)
        {
            var language = candidate?.Split('-')[0];
            if (language is not null && Supported.Contains(language))
            {
                return language.ToLowerInvariant();
            }
        }

        return Default;
    }

    /// <summary>The language a list's own name and consent text are in: its default locale's (as the database's list_wording says).</summary>
    public static string OfListDefault(string? defaultLocale) => (defaultLocale ?? Default).Split('-')[0].ToLowerInvariant();

    /// <summary>The language texts are read in now (the current UI culture's, when we speak it).</summary>
    public static string Current =>
        Supported.Contains(CultureInfo.CurrentUICulture.TwoLetterISOLanguageName) ? CultureInfo.CurrentUICulture.TwoLetterISOLanguageName : Default;

    /// <summary>
    /// Reads texts in <paramref name="language"/> from here on in this flow of execution (the
    /// culture flows with async calls). Only the UI culture changes: numbers and dates that the
    /// service writes for machines stay invariant.
    /// </summary>
    public static void Use(string language) => CultureInfo.CurrentUICulture = CultureInfo.GetCultureInfo(language);

    /// <summary>
    /// <see cref="Use(string)"/> for the rest of this request, including what is written after its
    /// handler returned (an error page), when this flow of execution has the request's culture again.
    /// </summary>
    public static void Use(HttpContext http, string language)
    {
        Use(language);
        http.Items[typeof(Languages)] = language;
    }

    /// <summary>
    /// For a page that a link of ours opens (a mail's confirmation link, the signup's thank-you redirect):
    /// the language the link names (<c>?lang=</c>), else the browser's, so that a reader who signed up in
    /// Spanish reads Spanish from the form to the last page. Returns the language used when the link
    /// named one, to carry on to the next page; else null.
    /// </summary>
    public static string? UseLinkLanguage(HttpRequest request, string? lang)
    {
        var language = Choose(lang, request.GetTypedHeaders().AcceptLanguage, null);
        Use(request.HttpContext, language);
        return lang is null ? null : language;
    }

    /// <summary>The language a handler chose for this request with <see cref="Use(HttpContext, string)"/>, else the current one.</summary>
    public static string Of(HttpContext http) => http.Items[typeof(Languages)] as string ?? Current;

    /// <summary>Every request reads its texts in the browser's language (a signup refines it with its locale and list).</summary>
    public static IApplicationBuilder UseReaderLanguage(this IApplicationBuilder app) =>
        app.Use((http, next) =>
        {
            Use(Choose(null, http.Request.GetTypedHeaders().AcceptLanguage, null));
            return next(http);
        });
}
