using Subscriptions.Api.Admin;
using Subscriptions.Api.Bounces;
using Subscriptions.Api.Confirmation;
using Subscriptions.Api.Data;
using Subscriptions.Api.Embed;
using Subscriptions.Api.Health;
using Subscriptions.Api.Import;
using Subscriptions.Api.Localization;
using Subscriptions.Api.Mail;
using Subscriptions.Api.Manage;
using Subscriptions.Api.Hosting;
using Subscriptions.Api.Outbox;
using Subscriptions.Api.Pages;
using Subscriptions.Api.Protection;
using Subscriptions.Api.Signup;
using Subscriptions.Api.Suppressions;
using Subscriptions.Api.Unsubscribe;
using Subscriptions.Api.Webhooks;

// The content root is the application's folder, wherever it is started from.
var builder = WebApplication.CreateBuilder(ApplicationFolder.Options(args));

// Configuration: the public names of DESIGN.md, bound and validated before anything listens;
// in Production also what only a developer may leave at its default (Smtp__From, the public base URL).
builder.AddSubscriptionsOptions();
builder.AddProductionChecks();
builder.RequireDeliverableSenderInProduction();

// PostgreSQL: one NpgsqlDataSource for the process, DbUp migrations from /migrations.
builder.AddDatabase();

// OpenAPI document, Prometheus metrics, JSON logs in production.
builder.AddObservability();

// Management__Urls: /metrics and the health probes on a port of their own, not on the public URLs.
builder.AddManagementPort();

// OpenTelemetry traces and metrics over OTLP, only when OTEL_EXPORTER_OTLP_ENDPOINT is set.
builder.AddTracing();

// Every error a caller sees is RFC 9457 problem details, or a hosted page in the reader's language when a
// browser asks (Pages/BrowserOrScript decides); a database outage is 503 with Retry-After.
builder.Services.AddHostedPages();
builder.Services.AddProblemDetails();
builder.Services.AddExceptionHandler<DatabaseUnavailableHandler>();

builder.Services.AddSingleton(TimeProvider.System);

// Every word a reader sees, in their language: IStringLocalizer<Texts> over Localization/*.resx.
builder.Services.AddLocalization();

// Abuse resistance: per-client rate limits, CORS for the lists' sites, security headers.
builder.Services.AddClientRateLimits();
builder.Services.AddSignupCors();
builder.Services.AddSecurityHeaders();

builder.Services.AddSignup();
builder.Services.AddHealth();

// The outbox: confirmation, reminder and welcome mails through SMTP (MailKit), signed webhooks over HTTP.
builder.Services.AddOutbox();

// Admin API: bearer key, lists, export, erasure, stats, webhooks, suppressions.
builder.Services.AddAdmin();

// The mail providers' bounce and complaint webhooks, each verified by the provider's own scheme.
builder.Services.AddBounceWebhooks();

var app = builder.Build();

// A bad configuration ends here with one line per problem, not a stack trace.
if (!app.HasValidConfiguration())
{
    return 1;
}

// Migrate under an advisory lock (waiting for a PostgreSQL that is not up yet); --migrate-only stops after it, for deploy pipelines.
if (!await app.MigrateDatabaseAsync())
{
    return 1;
}

if (args.Contains("--migrate-only"))
{
    return 0;
}

app.UseReaderLanguage();
app.UseTrustedProxies();
app.UseSecurityHeaders();
app.UseExceptionHandler();
app.UseStatusCodePages();
app.UseManagementPort();
app.UseCors();
app.UseRateLimiter();
app.UseAuthentication();
app.UseAuthorization();
app.UseUtf8Bodies();

app.MapHealth();
app.MapObservability();
app.MapSignup();
app.MapConfirmation();
app.MapUnsubscribe();
app.MapManage();
app.MapEmbed();
app.MapBounceWebhooks();

// The admin group (bearer key, set once on it): lists, export, erasure, stats, and the webhooks', suppressions' and import's endpoints.
app.MapAdmin().MapWebhookAdministration().MapSuppressionAdministration().MapImport();

await app.RunAsync();
return 0;
