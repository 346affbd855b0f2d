using System.Text;
using Dapper;
using Npgsql;
using System.Text.Encodings.Web;
using Microsoft.AspNetCore.Http.HttpResults;
using Subscriptions.Api.Localization;
using Subscriptions.Api.Signup;

namespace Subscriptions.Api.Pages;

/// <summary>The small self-contained HTML pages a reader sees when the flow runs without JavaScript.</summary>
public static class HostedPage
{
    public const string Style = """
        body{font:1rem/1.5 system-ui,sans-serif;margin:0;padding:2rem 1rem;color:#1a1a1a;background:#fafafa}
        main{max-width:34rem;margin:0 auto;background:#fff;padding:1.5rem 2rem;border-radius:.5rem;box-shadow:0 1px 3px #0002}
        h1{font-size:1.5rem;margin-top:0}ul.errors{color:#8a1f11;padding-left:1.2rem}
        input[type=email]{font:inherit;width:100%;max-width:24rem;padding:.5rem;border:1px solid #666;border-radius:.3rem}
        button{font:inherit;padding:.6rem 1.4rem;border:0;border-radius:.3rem;background:#0b57d0;color:#fff;cursor:pointer}
        button:focus-visible,input:focus-visible{outline:3px solid #f9ab00;outline-offset:2px}
        .hp{position:absolute;left:-10000px;width:1px;height:1px;overflow:hidden}
        .subscriptions-error,.subscriptions-field-error{color:#8a1f11}.subscriptions-success{color:#0d652d}
        """;

    public static ContentHttpResult Render(PageText text, string title, string bodyHtml, int statusCode = StatusCodes.Status200OK) =>
        TypedResults.Content($"""
            <!doctype html>
            <html lang="{text.Language}">
            <head>
            <meta charset="utf-8">
            <meta name="viewport" content="width=device-width, initial-scale=1">
            <title>{Encode(title)}</title>
            <style>{Style}</style>
            </head>
            <body>
            <main>
            <h1>{Encode(title)}</h1>
            {bodyHtml}
            </main>
            </body>
            </html>
            """, "text/html; charset=utf-8", Encoding.UTF8, statusCode);

    public static string Encode(string value) => HtmlEncoder.Default.Encode(value);

    /// <summary>
    /// A landing page of the flow (thank-you, confirmed) whose one sentence names the list given
    /// by slug in the query string, or "our newsletter" for none or an unknown one.
    /// </summary>
    public static async Task<ContentHttpResult> ForListAsync(
        HttpRequest request, NpgsqlDataSource dataSource, string? list, Func<PageText, (string Title, string Sentence)> words,
        CancellationToken cancellationToken)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        // a value that cannot be a slug names no list, and is not sent to PostgreSQL (which refuses a NUL in text)
        var name = list is null || !SignupValidator.IsListSlug(list) ? null : await connection.QuerySingleOrDefaultAsync<string>(new CommandDefinition(
            "SELECT w.name FROM lists l CROSS JOIN LATERAL list_wording(l.id, @language) w WHERE l.slug = @list",
            new { list, language = Languages.Current }, cancellationToken: cancellationToken));
        var text = PageText.For(request);
        var (title, sentence) = words(text);
        return Render(text, title, $"<p>{Encode(string.Format(sentence, text.Named(name, text.OurNewsletter)))}</p>");
    }
}

/// <summary>303 See Other: after a form POST the browser follows with a GET (the framework has no typed result for it).</summary>
public sealed class SeeOtherHttpResult(string location) : IResult, IStatusCodeHttpResult
{
    public string Location { get; } = location;

    public int? StatusCode => StatusCodes.Status303SeeOther;

    public Task ExecuteAsync(HttpContext httpContext)
    {
        httpContext.Response.StatusCode = StatusCodes.Status303SeeOther;
        httpContext.Response.Headers.Location = Location;
        return Task.CompletedTask;
    }
}
