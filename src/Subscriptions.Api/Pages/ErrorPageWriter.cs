using Microsoft.AspNetCore.Mvc;
using Microsoft.Extensions.Localization;
using Subscriptions.Api.Localization;

namespace Subscriptions.Api.Pages;

/// <summary>
/// Writes problem details as a hosted page, in the reader's language, when
/// <see cref="BrowserOrScript"/> says the request is a browser's. Everything that answers with
/// problem details goes through <see cref="IProblemDetailsService"/> and so through here first:
/// results, the status code pages (404, 405), the exception handler (500, 503), the rate
/// limiter (429), the body rules (413, 415). Otherwise the framework's JSON writer answers.
/// </summary>
public sealed class ErrorPageWriter(IStringLocalizer<Texts> texts) : IProblemDetailsWriter
{
    public bool CanWrite(ProblemDetailsContext context) =>
        BrowserOrScript.PageStatuses.Contains(context.HttpContext.Response.StatusCode)
        && BrowserOrScript.WantsPage(context.HttpContext, context.ProblemDetails);

    public async ValueTask WriteAsync(ProblemDetailsContext context)
    {
        var http = context.HttpContext;
        var status = http.Response.StatusCode;
        Languages.Use(Languages.Of(http));
        IResult page = context.ProblemDetails switch
        {
            ReaderProblem { Title: { } title } refusal => HostedPage.Show(new Message(title, refusal.Link is null ? refusal.Detail : null, refusal.Link), status),
            HttpValidationProblemDetails { Errors.Count: > 0 } invalid => HostedPage.Show(new RefusedForm(
                texts["FormErrorsTitle"], texts["FormErrorsIntro"], [.. invalid.Errors.SelectMany(e => e.Value)], texts["FormErrorsOutro"]), status),
            _ when status == StatusCodes.Status503ServiceUnavailable => HostedPage.Show(new Message(texts["UnavailableTitle"], texts["Unavailable"]), status),
            _ => HostedPage.Show(new Message(texts[$"Error{status}Title"], texts[$"Error{status}"]), status),
        };
        await page.ExecuteAsync(http);
    }
}
