using System.Globalization;
using Microsoft.AspNetCore.Diagnostics;
using Microsoft.Extensions.Localization;
using Npgsql;
using Subscriptions.Api.Localization;

namespace Subscriptions.Api.Data;

/// <summary>
/// A PostgreSQL that is down, restarting, too slow or out of connections is an outage, not a
/// bug: the caller gets 503 with Retry-After (problem details, or the hosted page for a
/// browser), and the log a Warning. Nothing is lost by it: a request answered 503 either never
/// reached the database or is safe to send again (a signup sent twice is kept once).
/// </summary>
public sealed partial class DatabaseUnavailableHandler(
    IProblemDetailsService problemDetails, IStringLocalizer<Texts> texts, ILogger<DatabaseUnavailableHandler> logger)
    : IExceptionHandler
{
    /// <summary>A restart or a failover takes seconds, and a reader is waiting on the form.</summary>
    public const int RetryAfterSeconds = 5;

    public async ValueTask<bool> TryHandleAsync(HttpContext httpContext, Exception exception, CancellationToken cancellationToken)
    {
        if (!IsOutage(exception) || httpContext.Response.HasStarted)
        {
            return false;
        }

        // The endpoint's name, not the path: paths carry confirmation and unsubscribe tokens.
        LogUnavailable(httpContext.Features.Get<IExceptionHandlerFeature>()?.Endpoint?.DisplayName ?? "(no endpoint)", exception);

        httpContext.Response.StatusCode = StatusCodes.Status503ServiceUnavailable;
        httpContext.Response.Headers.RetryAfter = RetryAfterSeconds.ToString(CultureInfo.InvariantCulture);
        // A browser gets the hosted page (Pages/BrowserOrScript decides); a client that accepts
        // neither JSON nor HTML still gets the status and Retry-After. Either way in the reader's
        // language: the one the handler chose for this request, else the browser's.
        Languages.Use(Languages.Of(httpContext));
        await problemDetails.TryWriteAsync(new ProblemDetailsContext
        {
            HttpContext = httpContext,
            Exception = exception,
            ProblemDetails =
            {
                Status = StatusCodes.Status503ServiceUnavailable,
                Title = texts["ProblemUnavailableTitle"],
                Detail = texts["ProblemUnavailable", RetryAfterSeconds],
            },
        });
        return true;
    }

    /// <summary>
    /// Npgsql's own transient verdict (no connection, a broken one, its command or pool
    /// timeout), plus what PostgreSQL says when an operator or a limit stops it: class 57 (shut
    /// down, starting up, statement timeout; a request that the caller abandoned never gets
    /// here, Npgsql turns that into OperationCanceledException), 08 (connection) and 53 (out of
    /// connections, memory or disk).
    /// </summary>
    public static bool IsOutage(Exception exception) => exception switch
    {
        PostgresException postgres => postgres.IsTransient || postgres.SqlState[..2] is "57" or "08" or "53",
        NpgsqlException npgsql => npgsql.IsTransient,
        _ => false,
    };

    [LoggerMessage(Level = LogLevel.Warning, Message = "PostgreSQL is unavailable: {Endpoint} answered 503.")]
    partial void LogUnavailable(string endpoint, Exception exception);
}
