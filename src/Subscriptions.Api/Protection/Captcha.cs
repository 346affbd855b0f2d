using System.Net;
using System.Text.Json.Serialization;
using Microsoft.Extensions.Options;

namespace Subscriptions.Api.Protection;

public enum CaptchaProvider
{
    None,
    Turnstile,
    HCaptcha,
}

public sealed class CaptchaOptions
{
    public const string Section = "Captcha";

    public CaptchaProvider Provider { get; set; } = CaptchaProvider.None;

    public string? Secret { get; set; }

    /// <summary>The provider's siteverify endpoint; set only to point at a stand-in.</summary>
    public Uri? VerifyUrl { get; set; }

    /// <summary>The form field the provider's widget fills (JSON callers send "captcha").</summary>
    public string FormField => Provider == CaptchaProvider.HCaptcha ? "h-captcha-response" : "cf-turnstile-response";

    public Uri SiteVerifyUrl => VerifyUrl ?? new Uri(Provider == CaptchaProvider.HCaptcha
        ? "https://api.hcaptcha.com/siteverify"
        : "https://challenges.cloudflare.com/turnstile/v0/siteverify");
}

/// <summary>Asks a CAPTCHA provider whether the widget's answer is a human's.</summary>
public interface ICaptchaVerifier
{
    Task<bool> VerifyAsync(string? response, IPAddress? client, CancellationToken cancellationToken);
}

/// <summary>The default: no CAPTCHA configured, every signup passes this check.</summary>
public sealed class NoCaptcha : ICaptchaVerifier
{
    public Task<bool> VerifyAsync(string? response, IPAddress? client, CancellationToken cancellationToken) => Task.FromResult(true);
}

/// <summary>
/// Cloudflare Turnstile and hCaptcha share the siteverify protocol: POST secret, response and
/// remoteip as a form; the JSON answer says success. A provider that cannot be reached fails closed.
/// </summary>
public sealed partial class SiteVerifyCaptcha(HttpClient http, IOptions<CaptchaOptions> options, ILogger<SiteVerifyCaptcha> logger) : ICaptchaVerifier
{
    sealed record Verdict([property: JsonPropertyName("success")] bool Success);

    public async Task<bool> VerifyAsync(string? response, IPAddress? client, CancellationToken cancellationToken)
    {
        if (string.IsNullOrWhiteSpace(response) || response.Length > 4096)
        {
            return false;
        }

        var form = new Dictionary<string, string> { ["secret"] = options.Value.Secret!, ["response"] = response };
        if (client is not null)
        {
            form["remoteip"] = client.ToString();
        }

        try
        {
            using var answer = await http.PostAsync(options.Value.SiteVerifyUrl, new FormUrlEncodedContent(form), cancellationToken);
            return answer.IsSuccessStatusCode && (await answer.Content.ReadFromJsonAsync<Verdict>(cancellationToken))?.Success == true;
        }
        catch (Exception ex) when (ex is HttpRequestException or System.Text.Json.JsonException or TaskCanceledException)
        {
            LogUnreachable(ex);
            return false;
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "The CAPTCHA provider could not be asked; the signup is refused.")]
    partial void LogUnreachable(Exception exception);
}

public static class CaptchaExtensions
{
    public static IServiceCollection AddCaptcha(this IServiceCollection services)
    {
        services.AddOptions<CaptchaOptions>()
            .BindConfiguration(CaptchaOptions.Section)
            .Validate(o => o.Provider == CaptchaProvider.None || !string.IsNullOrWhiteSpace(o.Secret),
                "Captcha__Secret is required when Captcha__Provider is Turnstile or HCaptcha.")
            .ValidateOnStart();

        services.AddHttpClient<SiteVerifyCaptcha>(client => client.Timeout = TimeSpan.FromSeconds(5));
        services.AddTransient<ICaptchaVerifier>(provider =>
            provider.GetRequiredService<IOptions<CaptchaOptions>>().Value.Provider == CaptchaProvider.None
                ? new NoCaptcha()
                : provider.GetRequiredService<SiteVerifyCaptcha>());
        return services;
    }
}
