using System.ComponentModel;
using System.ComponentModel.DataAnnotations;
using System.Diagnostics;
using System.Net;
using System.Text.Json.Serialization;
using Dapper;
using FluentValidation;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Extensions.Localization;
using Microsoft.Extensions.Options;
using Npgsql;
using Subscriptions.Api.Confirmation;
using Subscriptions.Api.Data;
using Subscriptions.Api.Kernel;
using Subscriptions.Api.Outbox;
using Subscriptions.Api.Hosting;
using Subscriptions.Api.Localization;
using Subscriptions.Api.Pages;
using Subscriptions.Api.Protection;
using SignupResult = Microsoft.AspNetCore.Http.HttpResults.Results<
    Microsoft.AspNetCore.Http.HttpResults.Accepted<Subscriptions.Api.Signup.SignupEndpoints.SignupAccepted>,
    Subscriptions.Api.Pages.SeeOtherHttpResult,
    RazorSlices.RazorSlice<Subscriptions.Api.Signup.CheckAddress>,
    Microsoft.AspNetCore.Http.HttpResults.ValidationProblem,
    Microsoft.AspNetCore.Http.HttpResults.ProblemHttpResult>;

namespace Subscriptions.Api.Signup;

public static class SignupEndpoints
{
    const int MaxUserAgentLength = 512;

    public static IServiceCollection AddSignup(this IServiceCollection services)
    {
        services.AddOptions<SignupProtectionOptions>()
            .BindConfiguration(SignupProtectionOptions.Section)
            .Validate(o => !string.IsNullOrWhiteSpace(o.HoneypotField)
                && o.HoneypotField is not ("email" or "consent" or "name" or "locale" or "list" or "lists" or "source" or "captcha"
                    or Attribution.SourceField or Attribution.MediumField or Attribution.CampaignField),
                "Signup__HoneypotField must name a field of its own.")
            .Validate(o => o.MaxBodyBytes is >= 1024 and <= 1024 * 1024, "Signup__MaxBodyBytes must be between 1024 and 1048576.")
            .ValidateOnStart();
        services.AddOptions<AttributionOptions>()
            .BindConfiguration(AttributionOptions.Section)
            .Validate(o => o.Sources.Length <= AttributionSources.MaxConfigured && o.Sources.All(AttributionSources.IsSourceName),
                $"Attribution__Sources must be at most {AttributionSources.MaxConfigured} names of 1-40 lower-case letters, digits, dots, hyphens and underscores (not none, other or unknown).")
            .ValidateOnStart();
        services.AddSingleton(provider => new AttributionSources(provider.GetRequiredService<IOptions<AttributionOptions>>().Value.Sources));
        services.AddSingleton<SubscriptionsMetrics>();
        services.AddSingleton<SignupLists>();
        services.AddCaptcha();
        services.AddDomainSuggestions();
        services.AddDisposableDomains();
        services.AddMailDomainCheck();
        return services.AddSingleton<IValidator<SignupInput>, SignupValidator>();
    }

    public static IEndpointRouteBuilder MapSignup(this IEndpointRouteBuilder app)
    {
        app.MapPost("/api/subscriptions", Subscribe)
            .RequireRateLimiting(RateLimiting.Signup)
            .RequireCors(SignupCorsPolicyProvider.Policy)
            .WithTags("Signup")
            .WithName("Subscribe")
            .WithSummary("Sign an address up to one or more lists (double opt-in: it stays pending until confirmed).")
            .WithDescription("""
                Scripts send JSON and get 202. HTML forms (urlencoded or multipart; lists as repeated `list` fields)
                get 303 to the list's thank-you page, or an HTML page listing the errors. The answer is the same
                for new, pending and confirmed addresses. An address one typo from a common mail domain is accepted as
                typed, and "Did you mean …?" is added: `suggestion` in the JSON, a 200 page offering both addresses to a form.
                """)
            .Accepts<SignupRequest>("application/json", "application/x-www-form-urlencoded", "multipart/form-data")
            .WithFormSchema<SignupForm>("application/x-www-form-urlencoded", "multipart/form-data")
            .Produces(StatusCodes.Status303SeeOther)
            .ProducesPage(StatusCodes.Status200OK)
            .ProducesProblem(StatusCodes.Status413PayloadTooLarge)
            .ProducesProblem(StatusCodes.Status415UnsupportedMediaType)
            .ProducesProblem(StatusCodes.Status429TooManyRequests)
            .ProducesUnavailable()
            .ProducesPage(StatusCodes.Status400BadRequest, StatusCodes.Status503ServiceUnavailable)
            .DisableAntiforgery()
            .OpensInBrowser();

        app.MapGet("/signup/thank-you", ThankYou)
            .WithName("SignupThankYou")
            .WithSummary("The hosted page a form post lands on when its list has no thank-you URL of its own.")
            .ExcludeFromDescription();

        return app;
    }

    /// <param name="Suggestion">"Did you mean …?": the address at the common domain it is one typo from (Signup/DomainSuggestions); absent otherwise.</param>
    public sealed record SignupAccepted(
        string Status,
        string Message,
        [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? Suggestion = null);

    /// <summary>The JSON body, as the OpenAPI document describes it (the honeypot field is left out on purpose).</summary>
    public sealed record SignupRequest(
        string Email,
        [property: Description("The reader agreed to the list's terms; false is refused with 400.")] bool Consent,
        string? Name = null,
        [property: Description("BCP 47 language tag for the mails, e.g. de-CH.")] string? Locale = null,
        [property: Description("List slugs; none = the default list, news.")] string[]? Lists = null,
        [property: Description("The page the form is on; the Referer when not given.")] string? Source = null,
        [property: Description("The CAPTCHA widget's response, when the service requires one.")] string? Captcha = null,
        [property: JsonPropertyName("utm_source"), Description("Campaign attribution, at most 100 characters; utm_source, utm_medium and utm_campaign are read from the source page's query string when none of them is given.")] string? UtmSource = null,
        [property: JsonPropertyName("utm_medium")] string? UtmMedium = null,
        [property: JsonPropertyName("utm_campaign")] string? UtmCampaign = null);

    /// <summary>
    /// The same signup as a news site's HTML form posts it, fields named as in the embedded form.
    /// For the document only: a form field is absent or text, never null.
    /// </summary>
    public sealed record SignupForm
    {
        [Required]
        public string Email { get; init; } = "";

        [Required, Description("The consent checkbox: on, true, yes or 1.")]
        public string Consent { get; init; } = "";

        public string Name { get; init; } = "";

        public string Locale { get; init; } = "";

        [Description("A list slug, repeated for several lists; none = news.")]
        public string[] List { get; init; } = [];

        public string Source { get; init; } = "";

        [JsonPropertyName("utm_source")]
        public string UtmSource { get; init; } = "";

        [JsonPropertyName("utm_medium")]
        public string UtmMedium { get; init; } = "";

        [JsonPropertyName("utm_campaign")]
        public string UtmCampaign { get; init; } = "";
    }

    public record struct SignupServices(
        NpgsqlDataSource DataSource,
        SignupLists Lists,
        OutboxSignal Outbox,
        IValidator<SignupInput> Validator,
        ICaptchaVerifier Captcha,
        SubscriptionsMetrics Metrics,
        TimeProvider Clock,
        IOptions<ConfirmationOptions> Confirmation,
        IOptions<SignupProtectionOptions> Protection,
        ServiceKeys Keys,
        IOptions<CaptchaOptions> CaptchaOptions,
        IStringLocalizer<Texts> Texts,
        DomainSuggestions Suggestions,
        DisposableDomains Disposable,
        CancellationToken CancellationToken);

    // One round trip, one transaction. The first statement upserts the subscriber and so
    // locks its row: concurrent signups of one address queue behind it, and the second
    // statement (a fresh snapshot) sees what they committed, which keeps the resend throttle
    // exact. It stores a pending subscription per list with the consent evidence (the text's
    // version and, from list_wording, the language of the text the reader was shown: the list's
    // translation into the reader's language, else its own), the ledger event and, unless
    // throttled, a confirmation mail for the dispatcher. A confirmed
    // subscription stays confirmed with the evidence it was confirmed with, and its
    // subscriber's details stay as they were: a stranger cannot rewrite them.
    // A suppressed address (on the list, or erased while on it: address_suppressed, 0008) changes
    // nothing and is sent nothing, and the answer is the same as for any other.
    // @status is 'pending', or 'held' for a disposable domain under Signup__DisposableDomains=Hold:
    // stored with its evidence like a pending one, but no mail is queued (only pending ones get mail).
    public const string SubscribeSql = """
        INSERT INTO subscribers AS s (email, email_as_typed, name, locale, created_at, updated_at)
        SELECT @email, @emailAsTyped, @name, @locale, @now, @now
        WHERE NOT address_suppressed(@email, @addressHash)
        ON CONFLICT (email) DO UPDATE SET
            (email_as_typed, name, locale) = (
                SELECT CASE WHEN c.confirmed THEN s.email_as_typed ELSE EXCLUDED.email_as_typed END,
                       CASE WHEN c.confirmed THEN s.name ELSE EXCLUDED.name END,
                       CASE WHEN c.confirmed THEN s.locale ELSE EXCLUDED.locale END
                FROM (SELECT EXISTS (SELECT 1 FROM subscriptions
                                     WHERE subscriber_id = s.id AND status = 'confirmed') AS confirmed) AS c),
            updated_at = EXCLUDED.updated_at;

        WITH subscriber AS (
            SELECT id FROM subscribers WHERE email = @email AND NOT address_suppressed(@email, @addressHash)
        ),
        traced AS (
            -- the request's trace context, for the outbox rows written below and by the ledger's trigger (0018)
            SELECT set_config('subscriptions.traceparent', coalesce(@traceparent, ''), true)
        ),
        recent_mail AS (
            SELECT max(o.created_at) AS last_at,
                   count(DISTINCT o.created_at) FILTER (WHERE o.created_at > @now - interval '1 day') AS last_day
            FROM outbox o JOIN subscriptions sub ON sub.id = o.subscription_id
            WHERE sub.subscriber_id = (SELECT id FROM subscriber)
        ),
        subscription AS (
            INSERT INTO subscriptions AS sub (subscriber_id, list_id, status, created_at, updated_at,
                consent_at, consent_ip, consent_user_agent, consent_source, consent_text_version, consent_text_language,
                utm_source, utm_medium, utm_campaign)
            SELECT subscriber.id, l.id, @status, @now, @now, @now, @ip::inet, @userAgent, @source, l.consent_text_version, w.language,
                   @utmSource, @utmMedium, @utmCampaign
            FROM subscriber CROSS JOIN lists l CROSS JOIN LATERAL list_wording(l.id, @mailLanguage) w
            WHERE l.slug = ANY(@slugs) AND l.archived_at IS NULL
            ON CONFLICT (subscriber_id, list_id) DO UPDATE SET
                status = CASE WHEN sub.status = 'confirmed' THEN sub.status ELSE @status END,
                confirmed_at = CASE WHEN sub.status = 'confirmed' THEN sub.confirmed_at END,
                unsubscribed_at = CASE WHEN sub.status = 'confirmed' THEN sub.unsubscribed_at END,
                consent_at = CASE WHEN sub.status = 'confirmed' THEN sub.consent_at ELSE EXCLUDED.consent_at END,
                consent_ip = CASE WHEN sub.status = 'confirmed' THEN sub.consent_ip ELSE EXCLUDED.consent_ip END,
                consent_user_agent = CASE WHEN sub.status = 'confirmed' THEN sub.consent_user_agent ELSE EXCLUDED.consent_user_agent END,
                consent_source = CASE WHEN sub.status = 'confirmed' THEN sub.consent_source ELSE EXCLUDED.consent_source END,
                consent_text_version = CASE WHEN sub.status = 'confirmed' THEN sub.consent_text_version ELSE EXCLUDED.consent_text_version END,
                consent_text_language = CASE WHEN sub.status = 'confirmed' THEN sub.consent_text_language ELSE EXCLUDED.consent_text_language END,
                (utm_source, utm_medium, utm_campaign) = (SELECT CASE WHEN sub.status = 'confirmed' THEN sub.utm_source ELSE EXCLUDED.utm_source END,
                    CASE WHEN sub.status = 'confirmed' THEN sub.utm_medium ELSE EXCLUDED.utm_medium END,
                    CASE WHEN sub.status = 'confirmed' THEN sub.utm_campaign ELSE EXCLUDED.utm_campaign END),
                updated_at = EXCLUDED.updated_at
            RETURNING sub.id, sub.list_id, sub.status, sub.consent_text_version, sub.consent_text_language
        ),
        recorded AS (
            INSERT INTO subscription_events (subscription_id, list_id, type, occurred_at, ip, user_agent, source,
                consent_text_version, consent_text_language, utm_source, utm_medium, utm_campaign)
            SELECT id, list_id, 'signup', @now, @ip::inet, @userAgent, @source, consent_text_version, consent_text_language,
                   @utmSource, @utmMedium, @utmCampaign
            FROM subscription, traced
        ),
        enqueued AS (
            INSERT INTO outbox (subscription_id, kind, locale, created_at, due_at)
            SELECT subscription.id, 'confirmation', @mailLanguage, @now, @now
            FROM subscription, recent_mail, traced
            WHERE subscription.status = 'pending'
              AND (recent_mail.last_at IS NULL OR recent_mail.last_at <= @now - @resendInterval)
              AND recent_mail.last_day < @dailyLimit
            ON CONFLICT (subscription_id, kind) WHERE sent_at IS NULL AND dead_at IS NULL DO NOTHING -- one waits already
            RETURNING id
        )
        SELECT count(*) FROM enqueued;
        """;

    /// <remarks>
    /// The answer is the same whether the address is new, pending or already confirmed, so the
    /// endpoint cannot be used to find out who is subscribed.
    /// </remarks>
    static async Task<SignupResult> Subscribe(HttpContext http, [AsParameters] SignupServices services)
    {
        var started = Stopwatch.GetTimestamp();
        var body = await SignupBody.ReadAsync(http.Request, services.Protection.Value.HoneypotField,
            services.CaptchaOptions.Value.FormField, services.Protection.Value.MaxBodyBytes, services.Texts, services.CancellationToken);
        if (body.Problem is not null)
        {
            services.Metrics.Signup("invalid");
            return body.Problem;
        }

        var input = body.Input!;
        var slugs = input.ListSlugs;

        // The reader's language, for every word of the answer and for the mail.
        var firstList = (await services.Lists.FindAsync([slugs[0]], services.CancellationToken)).FirstOrDefault();
        var language = Languages.Choose(input.Locale, http.Request.GetTypedHeaders().AcceptLanguage, firstList?.DefaultLocale);
        Languages.Use(http, language);

        // A bot filled the hidden field: it gets what a person would get, and nothing is kept.
        if (!string.IsNullOrEmpty(input.Honeypot))
        {
            var named = await services.Lists.FindAsync(slugs, services.CancellationToken);
            services.Metrics.Signup("honeypot", MetricLabel(slugs, named));
            await PadAsync(started, services.Protection.Value.MinimumResponseTime);
            return Success(http, input, named, services.Texts, services.Suggestions.Suggest(input.Email), input.Locale is null ? null : language);
        }

        var validation = await services.Validator.ValidateAsync(input, services.CancellationToken);
        var errors = validation.ToDictionary();
        foreach (var (field, messages) in body.ShapeErrors)
        {
            errors[field] = messages;
        }

        // Looked up after the validator did: lists are only ever added, so a valid signup finds all of its own.
        var lists = await services.Lists.FindAsync(slugs, services.CancellationToken);
        var metricList = MetricLabel(slugs, lists);

        if (errors.Count == 0 && !await services.Captcha.VerifyAsync(input.Captcha, ClientAddress(http), services.CancellationToken))
        {
            services.Metrics.Signup("captcha_failed", metricList);
            errors["captcha"] = [services.Texts["CaptchaRequired"]];
        }

        if (errors.Count > 0)
        {
            services.Metrics.Signup(SignupValidator.Outcome(validation), metricList);
            // a browser's form post gets the errors as a page (Pages/BrowserOrScript decides)
            return TypedResults.ValidationProblem(errors, title: services.Texts["FormErrorsTitle"]);
        }

        EmailAddress.TryNormalize(input.Email, out var email);
        var addressHash = await services.Keys.MacAsync("erasure", email!, services.CancellationToken);
        await using var connection = await services.DataSource.OpenConnectionAsync(services.CancellationToken);
        var locale = input.Locale is null ? null : InputRules.CanonicalLocale(input.Locale);
        var source = Source(http, input);
        var attribution = Attribution.From(input, source);
        var userAgent = http.Request.Headers.UserAgent.ToString();
        var held = services.Disposable.Holds(email);

        var enqueued = await connection.ExecuteScalarAsync<long>(new CommandDefinition(SubscribeSql, new
        {
            email,
            addressHash,
            emailAsTyped = input.Email!.Trim().Normalize(),
            name = string.IsNullOrWhiteSpace(input.Name) ? null : input.Name.Trim(),
            locale,
            now = services.Clock.GetUtcNow(),
            ip = ClientAddress(http)?.ToString(), // Dapper has no IPAddress mapping; PostgreSQL casts text to inet
            userAgent = userAgent.Length == 0 ? null : userAgent[..Math.Min(userAgent.Length, MaxUserAgentLength)],
            source,
            utmSource = attribution.Source,
            utmMedium = attribution.Medium,
            utmCampaign = attribution.Campaign,
            slugs,
            mailLanguage = language, // the reader's: the mail's, and the list wording's the evidence names
            resendInterval = services.Confirmation.Value.ResendInterval,
            dailyLimit = services.Confirmation.Value.DailyLimit,
            status = held ? "held" : "pending",
            traceparent = Tracing.CurrentTraceparent,
        }, cancellationToken: services.CancellationToken));
        if (enqueued > 0)
        {
            services.Outbox.Raise();
        }

        services.Metrics.Signup(held ? "held" : "accepted", metricList, attribution.Source);
        await PadAsync(started, services.Protection.Value.MinimumResponseTime);
        return Success(http, input, lists, services.Texts, services.Suggestions.Suggest(input.Email), input.Locale is null ? null : language);
    }

    // metric labels only ever name lists that exist: a bot must not mint label values
    static string? MetricLabel(string[] slugs, List<SignupLists.Target> lists) => lists.FirstOrDefault(l => l.Slug == slugs[0])?.Slug;

    static Task PadAsync(long started, TimeSpan minimum)
    {
        var remaining = minimum - Stopwatch.GetElapsedTime(started);
        return remaining > TimeSpan.Zero ? Task.Delay(remaining) : Task.CompletedTask;
    }

    /// <param name="pageLanguage">The language the signup's own locale chose, which the hosted thank-you page keeps; null = the browser's.</param>
    static SignupResult Success(
        HttpContext http, SignupInput input, List<SignupLists.Target> lists, IStringLocalizer<Texts> texts, string? suggestion, string? pageLanguage)
    {
        if (!http.Request.HasFormContentType)
        {
            return TypedResults.Accepted((string?)null, new SignupAccepted("accepted", texts["SignupAccepted"], suggestion));
        }

        var slugs = input.ListSlugs;
        var thankYouUrl = lists.FirstOrDefault(l => l.Slug == slugs[0])?.ThankYouUrl
            ?? $"/signup/thank-you?list={Uri.EscapeDataString(slugs[0])}{(pageLanguage is null ? "" : $"&lang={pageLanguage}")}";
        // without JavaScript, "Did you mean …?" is a page of its own, which offers both addresses
        return suggestion is null
            ? new SeeOtherHttpResult(thankYouUrl)
            : CheckAddress.Show(input, suggestion, thankYouUrl, Source(http, input), texts);
    }

    static string? Source(HttpContext http, SignupInput input) =>
        input.Source ?? (http.Request.Headers.Referer.ToString() is { } referer && InputRules.IsWebAddress(referer) ? referer : null);

    // RemoteIpAddress already went through the forwarded-headers middleware, which believes
    // X-Forwarded-For only from the configured trusted proxies.
    static IPAddress? ClientAddress(HttpContext http) =>
        http.Connection.RemoteIpAddress is { IsIPv4MappedToIPv6: true } mapped ? mapped.MapToIPv4() : http.Connection.RemoteIpAddress;

    static Task<RazorSlices.RazorSlice<Message>> ThankYou(
        string? list, string? lang, HttpRequest request, NpgsqlDataSource dataSource, CancellationToken cancellationToken)
    {
        Languages.UseLinkLanguage(request, lang);
        return HostedPage.ForListAsync(request, dataSource, list, text => (text.CheckInboxTitle, text.CheckInbox), cancellationToken);
    }
}
