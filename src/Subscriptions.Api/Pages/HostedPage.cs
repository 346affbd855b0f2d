using Dapper;
using Npgsql;
using RazorSlices;
using Subscriptions.Api.Kernel;
using Subscriptions.Api.Localization;

namespace Subscriptions.Api.Pages;

/// <summary>
/// The small self-contained HTML pages a reader sees when the flow runs without JavaScript:
/// RazorSlices templates in this folder, which encode every value they are given.
/// </summary>
public static class HostedPage
{
    /// <summary>
    /// The encoder the templates take from the services, and the error pages. Call before
    /// <c>AddProblemDetails</c>: problem details writers are asked in the order they were added,
    /// so a browser's error becomes a page before the JSON writer is asked.
    /// </summary>
    public static IServiceCollection AddHostedPages(this IServiceCollection services) => services
        .AddSingleton(HtmlEncoding.Encoder)
        .AddSingleton<IProblemDetailsWriter, ErrorPageWriter>();

    public static RazorSlice<Message> Show(Message page, int statusCode = StatusCodes.Status200OK) =>
        TypedResults.RazorSlice<MessagePage, Message>(page, statusCode);

    public static RazorSlice<OneButton> Show(OneButton page) => TypedResults.RazorSlice<OneButtonPage, OneButton>(page);

    public static RazorSlice<RefusedForm> Show(RefusedForm page, int statusCode) =>
        TypedResults.RazorSlice<RefusedFormPage, RefusedForm>(page, statusCode);

    /// <summary>
    /// A landing page of the flow (thank-you, confirmed) whose one sentence names the list given
    /// by slug in the query string, or "our newsletter" for none or an unknown one.
    /// </summary>
    public static async Task<RazorSlice<Message>> ForListAsync(
        HttpRequest request, NpgsqlDataSource dataSource, string? list, Func<PageText, (string Title, string Sentence)> words,
        CancellationToken cancellationToken)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        // a value that cannot be a slug names no list, and is not sent to PostgreSQL (which refuses a NUL in text)
        var name = list is null || !InputRules.IsListSlug(list) ? null : await connection.QuerySingleOrDefaultAsync<string>(new CommandDefinition(
            "SELECT w.name FROM lists l CROSS JOIN LATERAL list_wording(l.id, @language) w WHERE l.slug = @list",
            new { list, language = Languages.Current }, cancellationToken: cancellationToken));
        var text = PageText.For(request);
        var (title, sentence) = words(text);
        return Show(new Message(title, string.Format(sentence, text.Named(name, text.OurNewsletter))));
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
