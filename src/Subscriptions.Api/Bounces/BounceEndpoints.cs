using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Extensions.Localization;
using Microsoft.Extensions.Options;
using Npgsql;
using Subscriptions.Api.Hosting;
using Subscriptions.Api.Localization;
using Subscriptions.Api.Outbox;
using Subscriptions.Api.Protection;
using BounceResult = Microsoft.AspNetCore.Http.HttpResults.Results<
    Microsoft.AspNetCore.Http.HttpResults.NoContent,
    Microsoft.AspNetCore.Http.HttpResults.ProblemHttpResult>;

namespace Subscriptions.Api.Bounces;

/// <summary>
/// POST /api/webhooks/bounces/{provider}: bounce and complaint notifications from the mail
/// provider, each verified by the provider's own scheme. What a verified report does is the same
/// for all (record_bounce, 0008): a hard bounce or a complaint suppresses the address, soft
/// bounces do past Bounces__SoftBounceLimit in 7 days; an address the service does not know is
/// acknowledged and forgotten.
/// </summary>
public static partial class BounceEndpoints
{
    public const string Route = "/api/webhooks/bounces/{provider}";
    public static readonly string[] Providers = ["postmark", "mailgun", "sendgrid", "ses"];

    public static IServiceCollection AddBounceWebhooks(this IServiceCollection services)
    {
        services.AddOptions<BounceOptions>()
            .BindConfiguration(BounceOptions.Section)
            .Validate(o => o.SoftBounceLimit is >= 1 and <= 100, "Bounces__SoftBounceLimit must be between 1 and 100.")
            .Validate(o => o.ReplayWindow > TimeSpan.Zero && o.ReplayWindow <= TimeSpan.FromDays(1), "Bounces__ReplayWindow must be positive and at most a day.")
            .Validate(o => o.MaxBodyBytes is >= 1024 and <= 64 * 1024 * 1024, "Bounces__MaxBodyBytes must be between 1024 and 67108864.")
            .Validate(o => string.IsNullOrEmpty(o.Postmark.Username) == string.IsNullOrEmpty(o.Postmark.Password),
                "Bounces__Postmark__Username and Bounces__Postmark__Password go together.")
            .Validate(o => BounceOptions.SendGridOptions.IsValidKey(o.SendGrid.PublicKey),
                "Bounces__SendGrid__PublicKey must be the Signed Event Webhook's verification key (base64 DER of an ECDSA public key).")
            .Validate(o => BounceOptions.SesOptions.IsValidPattern(o.Ses.CertificateUrlPattern),
                "Bounces__Ses__CertificateUrlPattern must be a regular expression anchored with ^ and $.")
            .ValidateOnStart();
        services.AddSingleton<PostmarkBounces>();
        services.AddSingleton<MailgunBounces>();
        services.AddSingleton<SendGridBounces>();
        services.AddSingleton<SesBounces>();
        services.AddSingleton<SnsCertificates>();
        services.AddHttpClient(SnsCertificates.HttpClientName, client =>
            {
                client.Timeout = TimeSpan.FromSeconds(10);
                client.DefaultRequestHeaders.UserAgent.ParseAdd("Subscriptions-Bounces/1");
            })
            .ConfigurePrimaryHttpMessageHandler(() => new SocketsHttpHandler { AllowAutoRedirect = false });
        return services;
    }

    public static IEndpointRouteBuilder MapBounceWebhooks(this IEndpointRouteBuilder app)
    {
        app.MapPost(Route, Receive)
            .WithTags("Bounces")
            .WithName("ReceiveBounces")
            .WithSummary("Bounce and complaint notifications from the mail provider: postmark, mailgun, sendgrid or ses.")
            .WithDescription("""
                Verified by the provider's own scheme: Postmark by HTTP basic auth, Mailgun by its HMAC signature and
                one-time token, SendGrid by its ECDSA signature headers, SES by Amazon SNS's message signature (an SNS
                SubscriptionConfirmation is confirmed). 401 for anything unsigned, mis-signed, stale or replayed, and for
                every request to a provider without configured credentials. 204 once recorded, unknown addresses included.
                """)
            .Accepts<string>("application/json", "text/plain")
            .ProducesProblem(StatusCodes.Status400BadRequest)
            .ProducesProblem(StatusCodes.Status401Unauthorized)
            .ProducesProblem(StatusCodes.Status404NotFound)
            .ProducesProblem(StatusCodes.Status413PayloadTooLarge)
            .ProducesUnavailable()
            .DisableAntiforgery();
        return app;
    }

    public record struct BounceServices(
        PostmarkBounces Postmark,
        MailgunBounces Mailgun,
        SendGridBounces SendGrid,
        SesBounces Ses,
        NpgsqlDataSource DataSource,
        OutboxSignal Signal,
        IOptions<BounceOptions> Options,
        TimeProvider Clock,
        ILoggerFactory Logs,
        CancellationToken CancellationToken);

    static async Task<BounceResult> Receive(string provider, HttpRequest request, [AsParameters] BounceServices services)
    {
        var configured = provider switch
        {
            "postmark" => services.Postmark.Configured,
            "mailgun" => services.Mailgun.Configured,
            "sendgrid" => services.SendGrid.Configured,
            "ses" => services.Ses.Configured,
            _ => (bool?)null,
        };
        if (configured is null)
        {
            return Problem(StatusCodes.Status404NotFound, "Unknown provider", $"Bounce webhooks are served for {string.Join(", ", Providers)}.");
        }

        var logger = services.Logs.CreateLogger(typeof(BounceEndpoints));
        if (configured == false)
        {
            LogRefused(logger, provider, "no credentials configured");
            return Problem(StatusCodes.Status401Unauthorized, "Not configured", $"Bounces__{provider} credentials are not configured: every request is refused.");
        }

        if (Utf8Bodies.DeclaresOtherCharset(request))
        {
            // the same words as every other body in another charset (English, unless the caller asks otherwise)
            var texts = request.HttpContext.RequestServices.GetRequiredService<IStringLocalizer<Texts>>();
            return Problem(StatusCodes.Status415UnsupportedMediaType, texts["ProblemCharsetTitle"], texts["ProblemCharset"]);
        }

        var body = await ReadBodyAsync(request, services.Options.Value.MaxBodyBytes, services.CancellationToken);
        if (body is null)
        {
            return Problem(StatusCodes.Status413PayloadTooLarge, "Too large", $"A bounce webhook body is at most {services.Options.Value.MaxBodyBytes} bytes.");
        }

        var verdict = provider switch
        {
            "postmark" => services.Postmark.Read(request, body.Value),
            "mailgun" => services.Mailgun.Read(body.Value),
            "sendgrid" => services.SendGrid.Read(request, body.Value),
            _ => await services.Ses.ReadAsync(body.Value, services.CancellationToken),
        };
        switch (verdict)
        {
            case BounceVerdict.Refused refused:
                LogRefused(logger, provider, refused.Reason);
                return Problem(StatusCodes.Status401Unauthorized, "Not verified", $"Refused: {refused.Reason}.");
            case BounceVerdict.Malformed malformed:
                return Problem(StatusCodes.Status400BadRequest, "Malformed", malformed.Reason + ".");
            case BounceVerdict.Unavailable unavailable:
                return Problem(StatusCodes.Status503ServiceUnavailable, "Try again", unavailable.Reason + ".");
            case BounceVerdict.Confirmed:
                LogConfirmed(logger, provider);
                return TypedResults.NoContent();
        }

        var accepted = (BounceVerdict.Accepted)verdict;
        var options = services.Options.Value;
        var (fresh, suppressed) = await BounceRecorder.RecordAsync(services.DataSource, provider, accepted, options.SoftBounceLimit,
            options.ReplayWindow, services.Clock.GetUtcNow(), services.CancellationToken);
        if (!fresh)
        {
            LogRefused(logger, provider, "replayed");
            return Problem(StatusCodes.Status401Unauthorized, "Not verified", "Refused: this request was received before.");
        }

        if (suppressed)
        {
            services.Signal.Raise(OutboxLane.Webhooks);
        }

        return TypedResults.NoContent();
    }

    /// <summary>The raw body (signatures cover its bytes), or null past the limit.</summary>
    static async Task<ReadOnlyMemory<byte>?> ReadBodyAsync(HttpRequest request, int limit, CancellationToken cancellationToken)
    {
        if (request.ContentLength > limit)
        {
            return null;
        }

        using var buffer = new MemoryStream();
        var chunk = new byte[16 * 1024];
        int read;
        while ((read = await request.Body.ReadAsync(chunk, cancellationToken)) > 0)
        {
            if (buffer.Length + read > limit)
            {
                return null;
            }

            buffer.Write(chunk, 0, read);
        }

        return buffer.ToArray();
    }

    static ProblemHttpResult Problem(int status, string title, string detail) => TypedResults.Problem(detail, statusCode: status, title: title);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Refused a {Provider} bounce webhook: {Reason}.")]
    static partial void LogRefused(ILogger logger, string provider, string reason);

    [LoggerMessage(Level = LogLevel.Information, Message = "Confirmed the {Provider} subscription to bounce notifications.")]
    static partial void LogConfirmed(ILogger logger, string provider);
}
