using System.Text.Json.Serialization;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;

namespace Subscriptions.Api.Pages;

/// <summary>
/// A refusal a reader meets in the flow (an unknown or spent link): its title and detail are
/// already in the reader's language, and are the words of its page too. A script gets them as
/// problem details; a browser gets them as a page (<see cref="ErrorPageWriter"/>), with the link
/// when there is one.
/// </summary>
public sealed class ReaderProblem : ProblemDetails
{
    /// <summary>Shown on the page instead of the detail; not part of the problem details.</summary>
    [JsonIgnore]
    public PageLink? Link { get; init; }

    public static ProblemHttpResult Result(int statusCode, string title, string detail, PageLink? link = null) =>
        TypedResults.Problem(new ReaderProblem { Status = statusCode, Title = title, Detail = detail, Link = link });
}
